import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { PlannedChange } from './projection-plan';

/**
 * The outbox's columns a change fills, in the order of each COPY line. Identity ids follow the
 * lines' order, which is the order the changes were decided in.
 */
const OUTBOX_COPY_SQL = /* sql */ `COPY outbox (gid, type, change, traceparent, event_at) FROM STDIN`;

/** One outbox row: a planned change (`eventAt` null or absent when unknown). */
export type OutboxRow = Pick<PlannedChange, 'gid' | 'type' | 'change' | 'traceparent'> & { eventAt?: string | null };

/** What COPY's text format escapes in a field: backslash, newline, carriage return, tab. */
const SPECIAL = /[\\\n\r\t]/;
const SPECIALS = /[\\\n\r\t]/g;
const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One field of `COPY ... FROM STDIN` in its text format: `\N` for null, the rest escaped. */
export function copyTextField(value: string | null): string {
  if (value === null) return '\\N';
  return SPECIAL.test(value) ? value.replace(SPECIALS, (special) => ESCAPED[special]) : value;
}

/**
 * The COPY data of the changes' outbox rows: one line each, in the order given, as UTF-8. Each
 * line is encoded on its own: encoding one string of a whole batch's lines costs V8 several
 * times as much (it flattens the concatenation first).
 */
export function outboxCopyData(changes: readonly OutboxRow[]): Buffer {
  const lines = changes.map(({ gid, type, change, traceparent, eventAt }) => {
    const fields = [gid, type, JSON.stringify(change), traceparent, eventAt ?? null];
    return Buffer.from(`${fields.map(copyTextField).join('\t')}\n`);
  });
  return Buffer.concat(lines);
}

/**
 * Writes the changes to the outbox with one COPY (Postgres parses each change's JSON once; an
 * `INSERT ... SELECT FROM json_to_recordset` of the same rows costs it about three times the
 * CPU), then one NOTIFY for the relay. Runs on `client`'s open transaction: the rows and the
 * notification commit with it, or not at all.
 */
export async function writeOutbox(client: ClientBase, changes: readonly OutboxRow[], channel: string): Promise<void> {
  if (changes.length === 0) return;
  await pipeline(Readable.from([outboxCopyData(changes)]), client.query(copyFrom(OUTBOX_COPY_SQL)));
  await client.query(/* sql */ `SELECT pg_notify($1, '')`, [channel]);
}
