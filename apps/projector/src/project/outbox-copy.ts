import type { ClientBase } from 'pg';
import { copyIn, copyTextLine } from './copy-text';
import type { PlannedChange } from './projection-plan';

/**
 * The outbox's columns a change fills, in the order of each COPY line. Identity ids follow the
 * lines' order, which is the order the changes were decided in.
 */
const OUTBOX_COPY_SQL = /* sql */ `COPY outbox (gid, type, change, traceparent, event_at) FROM STDIN`;

/** One outbox row: a planned change (`eventAt` null or absent when unknown). */
export type OutboxRow = Pick<PlannedChange, 'gid' | 'type' | 'change' | 'traceparent'> & { eventAt?: string | null };

/** The COPY data of the changes' outbox rows: one line each, in the order given, as UTF-8. */
export function outboxCopyData(changes: readonly OutboxRow[]): Buffer {
  return Buffer.concat(
    changes.map(({ gid, type, change, traceparent, eventAt }) =>
      copyTextLine([gid, type, JSON.stringify(change), traceparent, eventAt ?? null]),
    ),
  );
}

/**
 * Writes the changes to the outbox with one COPY (Postgres parses each change's JSON once; an
 * `INSERT ... SELECT FROM json_to_recordset` of the same rows costs it about three times the
 * CPU), then one NOTIFY for the relay. Runs on `client`'s open transaction: the rows and the
 * notification commit with it, or not at all.
 */
export async function writeOutbox(client: ClientBase, changes: readonly OutboxRow[], channel: string): Promise<void> {
  if (changes.length === 0) return;
  await copyIn(client, OUTBOX_COPY_SQL, outboxCopyData(changes));
  await client.query(/* sql */ `SELECT pg_notify($1, '')`, [channel]);
}
