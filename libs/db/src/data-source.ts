import { DataSource, type DataSourceOptions } from 'typeorm';
import { Client } from 'pg';
import { AsanaStreamError } from '@asana-stream/errors';
import { OutboxEntity } from './entities/outbox.entity';
import { ProjectEntity } from './entities/project.entity';
import { ResourceEntity } from './entities/resource.entity';
import { SubscriptionEntity } from './entities/subscription.entity';
import { TaskEntity } from './entities/task.entity';
import { InitialSchema1763856000000 } from './migrations/1763856000000-initial-schema';
import { OutboxParking1764460800000 } from './migrations/1764460800000-outbox-parking';
import { AsanaRequestBudget1764547200000 } from './migrations/1764547200000-asana-request-budget';
import { EventStreams1764633600000 } from './migrations/1764633600000-event-streams';
import { ResyncProgress1764720000000 } from './migrations/1764720000000-resync-progress';
import { WebhookHealth1764806400000 } from './migrations/1764806400000-webhook-health';
import { EventsFeed1764900000000 } from './migrations/1764900000000-events-feed';
import { SweepsAndDivergences1764936000000 } from './migrations/1764936000000-sweeps-and-divergences';
import { Routes1765022400000 } from './migrations/1765022400000-routes';
import { WatchedResourceType1765108800000 } from './migrations/1765108800000-watched-resource-type';
import { OutboxEventTime1765195200000 } from './migrations/1765195200000-outbox-event-time';
import { OutboxClaimIndex1765281600000 } from './migrations/1765281600000-outbox-claim-index';
import { RelayClaim1765368000000 } from './migrations/1765368000000-relay-claim';
import { WebhookFilters1765454400000 } from './migrations/1765454400000-webhook-filters';
import { RelayClaimOrderedWalk1765540800000 } from './migrations/1765540800000-relay-claim-ordered-walk';
import { OutboxChangeJson1765627200000 } from './migrations/1765627200000-outbox-change-json';

export const ENTITIES = [TaskEntity, ProjectEntity, ResourceEntity, OutboxEntity, SubscriptionEntity];
export const MIGRATIONS = [
  InitialSchema1763856000000,
  OutboxParking1764460800000,
  AsanaRequestBudget1764547200000,
  EventStreams1764633600000,
  ResyncProgress1764720000000,
  WebhookHealth1764806400000,
  EventsFeed1764900000000,
  SweepsAndDivergences1764936000000,
  Routes1765022400000,
  WatchedResourceType1765108800000,
  OutboxEventTime1765195200000,
  OutboxClaimIndex1765281600000,
  RelayClaim1765368000000,
  WebhookFilters1765454400000,
  RelayClaimOrderedWalk1765540800000,
  OutboxChangeJson1765627200000,
];

/** TypeORM options for asana-stream's database: schema only through migrations, never `synchronize`. */
export function dataSourceOptions(databaseUrl: string, poolSize = 10, connectTimeoutMs = 10_000): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'all',
    // pg waits forever for a connection by default: a host that drops packets would hang the app.
    extra: { max: poolSize, connectionTimeoutMillis: connectTimeoutMs },
  };
}

export function createDataSource(databaseUrl: string, poolSize?: number, connectTimeoutMs?: number): DataSource {
  return new DataSource(dataSourceOptions(databaseUrl, poolSize, connectTimeoutMs));
}

/** Thrown when the database cannot serve the apps (code DATABASE_NOT_READY: halt); the message says what to do. */
export class DatabaseNotReadyError extends AsanaStreamError {
  declare readonly code: 'DATABASE_NOT_READY';

  constructor(message: string, options?: { cause?: unknown }) {
    super('DATABASE_NOT_READY', message, { cause: options?.cause });
    this.name = 'DatabaseNotReadyError';
  }
}

/** Creates the database named in `databaseUrl` if it does not exist (connecting to `postgres`). */
export async function ensureDatabaseExists(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) throw new DatabaseNotReadyError(`DATABASE_URL names no database: ${url.host}`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  try {
    await admin.connect();
  } catch (cause) {
    throw new DatabaseNotReadyError(
      `no Postgres server answers at ${url.host} (${String(cause)}): start it ` +
        `(on this machine: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set DATABASE_URL`,
      { cause },
    );
  }
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } finally {
    await admin.end();
  }
}

/** Drops the database named in `databaseUrl` (disconnecting its sessions); false if it did not exist. */
export async function dropDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) return false;
    await admin.query(`DROP DATABASE "${name.replace(/"/g, '""')}" WITH (FORCE)`);
    return true;
  } finally {
    await admin.end();
  }
}

/**
 * Fails with a clear message when migrations are pending: apps never migrate on their own
 * (several replicas starting at once would race); `asana-stream db migrate` does.
 */
export async function assertSchemaCurrent(dataSource: DataSource): Promise<void> {
  if (await dataSource.showMigrations()) {
    throw new DatabaseNotReadyError('the database schema is not current: run `npm run db:migrate` (or the setup job)');
  }
}
