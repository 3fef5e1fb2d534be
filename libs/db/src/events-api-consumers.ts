import { createHash, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';

/**
 * Who may read the Events API: one row per consumer (a team, a service), holding only the SHA-256
 * of its token (tokens are 256 random bits, so a fast hash is enough), the resource types it
 * may read (null: every type) and the routes it may read with (null: not limited to routes). The
 * cli creates and deletes them; fanout checks them.
 */
export interface EventsApiConsumer {
  name: string;
  /** Resource types this consumer may read; null for all. */
  types: string[] | null;
  /** Routes this consumer may read (`GET /events?route=`), and then only those; null: not limited to routes. */
  routes: string[] | null;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface ConsumerRow {
  name: string;
  types: string[] | null;
  routes: string[] | null;
  created_at: Date;
  last_used_at: Date | null;
}

const toConsumer = (r: ConsumerRow): EventsApiConsumer => ({
  name: r.name,
  types: r.types,
  routes: r.routes,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

const TOKEN_PREFIX = 'asev_';
/** A consumer's name: what an operator types, what logs and metrics show. */
export const CONSUMER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** A new token: a recognisable prefix (secret scanners can match it), then 32 random bytes. */
export function generateConsumerToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashConsumerToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Creates a consumer and returns its token, shown once: only its hash is kept. */
export async function createEventsApiConsumer(
  dataSource: DataSource,
  name: string,
  types: string[] | null,
  routes: string[] | null = null,
): Promise<{ consumer: EventsApiConsumer; token: string }> {
  const token = generateConsumerToken();
  const [row] = await dataSource.query<{ created_at: Date }[]>(
    /* sql */ `INSERT INTO events_api_consumers (name, token_sha256, types, routes) VALUES ($1, $2, $3, $4) RETURNING created_at`,
    [name, hashConsumerToken(token), types, routes],
  );
  return { consumer: { name, types, routes, createdAt: row.created_at, lastUsedAt: null }, token };
}

export async function listEventsApiConsumers(dataSource: DataSource): Promise<EventsApiConsumer[]> {
  const rows = await dataSource.query<ConsumerRow[]>(
    /* sql */ `SELECT name, types, routes, created_at, last_used_at FROM events_api_consumers ORDER BY name`,
  );
  return rows.map(toConsumer);
}

/** Deletes a consumer; its token stops working within the API's cache time. Returns whether it existed. */
export async function deleteEventsApiConsumer(dataSource: DataSource, name: string): Promise<boolean> {
  const [, count] = await dataSource.query<[unknown[], number]>(
    /* sql */ `DELETE FROM events_api_consumers WHERE name = $1`,
    [name],
  );
  return count > 0;
}

/** The consumer a token belongs to, if any, noting its use (at most once a minute per consumer). */
export async function findEventsApiConsumer(dataSource: DataSource, token: string): Promise<EventsApiConsumer | null> {
  // An UPDATE: TypeORM answers [rows, count].
  const [rows] = await dataSource.query<[ConsumerRow[], number]>(
    /* sql */ `UPDATE events_api_consumers SET last_used_at = CASE
               WHEN last_used_at IS NULL OR last_used_at < now() - interval '1 minute' THEN now() ELSE last_used_at END
             WHERE token_sha256 = $1 RETURNING name, types, routes, created_at, last_used_at`,
    [hashConsumerToken(token)],
  );
  return rows[0] ? toConsumer(rows[0]) : null;
}
