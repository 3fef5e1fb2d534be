import type { ClientBase } from 'pg';
import { copyIn, copyTextLine } from './copy-text';
import type { PlannedChange } from './projection-plan';
import { stringifyState, type StateJson } from './state-json';

/**
 * The outbox's columns a change fills, in the order of each COPY line. Identity ids follow the
 * lines' order, which is the order the changes were decided in.
 */
const OUTBOX_COPY_SQL = /* sql */ `COPY outbox (gid, type, change, traceparent, event_at) FROM STDIN`;

/** One outbox row: a planned change (`eventAt` null or absent when unknown). */
export type OutboxRow = Pick<PlannedChange, 'gid' | 'type' | 'change' | 'traceparent'> & { eventAt?: string | null };

type Change = OutboxRow['change'];

/** The fields `changeJson` writes, which must be all a change has. */
type WrittenField = 'schema' | 'gid' | 'type' | 'action' | 'version' | 'changes' | 'state' | 'causes' | 'occurredAt';
/** A change, as long as `WrittenField` names all its fields: a field added to the contract fails to compile here. */
type EveryFieldWritten<T> = [Exclude<keyof T, WrittenField>] extends [never] ? T : never;

/**
 * The change's JSON exactly as `JSON.stringify(change)` writes it (the contract's field order),
 * with the state's JSON from `stateJson`, which the batch has already made for its row.
 */
export function changeJson(change: EveryFieldWritten<Change>, stateJson: StateJson = stringifyState): string {
  const { schema, gid, type, action, version, changes, state, causes, occurredAt } = change;
  const before = JSON.stringify({ schema, gid, type, action, version, changes }).slice(1, -1);
  const after = JSON.stringify({ causes, occurredAt }).slice(1, -1);
  const fields = [before, `"state":${stateJson(state)}`, after].filter((part) => part !== '');
  return `{${fields.join(',')}}`;
}

/** The COPY data of the changes' outbox rows: one line each, in the order given, as UTF-8. */
export function outboxCopyData(changes: readonly OutboxRow[], stateJson: StateJson = stringifyState): Buffer {
  return Buffer.concat(
    changes.map(({ gid, type, change, traceparent, eventAt }) =>
      copyTextLine([gid, type, changeJson(change, stateJson), traceparent, eventAt ?? null]),
    ),
  );
}

/**
 * Writes the changes to the outbox with one COPY (Postgres parses each change's JSON once; an
 * `INSERT ... SELECT FROM json_to_recordset` of the same rows costs it about three times the
 * CPU), then one NOTIFY for the relay. Runs on `client`'s open transaction: the rows and the
 * notification commit with it, or not at all.
 */
export async function writeOutbox(
  client: ClientBase,
  changes: readonly OutboxRow[],
  channel: string,
  stateJson: StateJson = stringifyState,
): Promise<void> {
  if (changes.length === 0) return;
  await copyIn(client, OUTBOX_COPY_SQL, outboxCopyData(changes, stateJson));
  await client.query(/* sql */ `SELECT pg_notify($1, '')`, [channel]);
}
