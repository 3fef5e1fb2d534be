import type { Message } from 'kafkajs';
import { matchingRoutes, type RoutableChange, type Route } from '@asana-stream/contracts';
import { AsanaStreamError, classifyError, dispositionOf, safeText } from '@asana-stream/errors';

/** An outbox row as the relay claims it: `change` as the JSON text stored (`json`), not parsed. */
export interface ClaimedRow {
  id: string;
  gid: string;
  type: string;
  /** The change message without its `changeId`, as JSON text. */
  change: string;
  traceparent: string | null;
  attempts: number;
  /** How old the row was when claimed (ms, by Postgres' clock): the start of its freshness. */
  ageMs?: number;
  /**
   * How long before the claim Asana created the earliest event the change answers (ms, Postgres'
   * clock against Asana's `created_at`); null when the row carries no event time.
   */
  eventAgeMs?: number | null;
}

/** A row whose publish failed for a reason that may be its own. */
export interface RowFailure {
  row: ClaimedRow;
  error: AsanaStreamError;
}

/** What publishing one claimed batch came to. */
export interface PublishOutcome {
  /** Rows Kafka acknowledged: marked published. */
  published: ClaimedRow[];
  /** Rows refused, at most one per gid (the gid's later rows were not tried). */
  failed: RowFailure[];
  /** A failure that is nobody's row's (Kafka unavailable): publishing stopped there. */
  stoppedBy?: AsanaStreamError;
}

/** How a failed row is recorded. */
export interface FailureRecord {
  id: string;
  attempts: number;
  lastError: string;
  park: boolean;
}

/** Publishes rows in order with one publish call; rejects with the call's failure. */
export type PublishRows = (rows: ClaimedRow[]) => Promise<void>;

/**
 * The change message as Kafka carries it: the stored change with `changeId` (the row's id) added.
 * Spliced into the stored JSON text, so a row is never parsed and serialised again.
 */
export function changeValue(change: string, id: string): string {
  if (!/^\d+$/.test(id)) throw new AsanaStreamError('INTERNAL', 'an outbox id that is not an integer');
  const text = change.trim();
  if (text.startsWith('{') && text.endsWith('}')) {
    const inner = text.slice(1, -1).trim();
    return inner === '' ? `{"changeId": "${id}"}` : `{${inner}, "changeId": "${id}"}`;
  }
  // Not an object (never written by the projector): what spreading it would have given.
  return JSON.stringify({ ...(JSON.parse(text) as object), changeId: id });
}

/** The Kafka message of a row: keyed by its gid. */
export function changeMessage(row: ClaimedRow): Message {
  return { key: row.gid, value: changeValue(row.change, row.id) };
}

/**
 * The routes a row belongs on. Its change is parsed only when there are routes to match: without
 * routes the relay never parses a row.
 */
export function routesOf<R extends Route>(row: ClaimedRow, routes: readonly R[]): R[] {
  if (routes.length === 0) return [];
  return matchingRoutes(routes, JSON.parse(row.change) as RoutableChange);
}

/** The rows grouped by gid, each group in id order, groups by their first row. */
export function groupByGid(rows: readonly ClaimedRow[]): ClaimedRow[][] {
  const groups = new Map<string, ClaimedRow[]>();
  for (const row of rows) {
    const group = groups.get(row.gid);
    if (group) group.push(row);
    else groups.set(row.gid, [row]);
  }
  return [...groups.values()];
}

/**
 * Whether a failed publish may be a row's fault: Kafka refused a message (too large, invalid) or
 * nothing recognised the error. Anything else (Kafka unavailable, a fenced producer, a halt) is
 * no row's fault: nothing is counted against the rows, the batch is tried again later.
 */
export function mayBeTheRows(error: AsanaStreamError): boolean {
  return dispositionOf(error.code) === 'dead-letter' || error.code === 'UNKNOWN';
}

/**
 * Publishes a claimed batch with one publish call. When Kafka refuses it for a reason that may be
 * a row's, the batch is split (whole gids, halves, then a gid's rows one by one) until each
 * refused row is found: every gid's rows up to its refused one are published, the refused one
 * is reported, and the gid's later rows are left for the next batch. A failure that is no row's
 * stops the search; what was published so far is reported as published.
 *
 * Order per gid holds: a gid's rows are in one publish call, in id order, and the publisher
 * drops a call's messages after the first of its requests that failed, so a later row of a gid
 * is never acknowledged while an earlier one was not.
 */
export async function publishBatch(rows: ClaimedRow[], publish: PublishRows): Promise<PublishOutcome> {
  const outcome: PublishOutcome = { published: [], failed: [] };
  const first = await attempt(rows, publish);
  if (first === undefined) {
    outcome.published.push(...rows);
    return outcome;
  }
  if (!mayBeTheRows(first)) return { ...outcome, stoppedBy: first };
  // Groups of whole gids still to publish; the first one failed as a whole already.
  const pending: ClaimedRow[][][] = [groupByGid(rows)];
  let knownToFail = true;
  while (pending.length > 0) {
    const groups = pending.shift()!;
    const failure = knownToFail ? first : await attempt(groups.flat(), publish);
    knownToFail = false;
    if (failure === undefined) {
      outcome.published.push(...groups.flat());
      continue;
    }
    if (!mayBeTheRows(failure)) return { ...outcome, stoppedBy: failure };
    if (groups.length > 1) {
      const half = Math.ceil(groups.length / 2);
      pending.unshift(groups.slice(0, half), groups.slice(half));
      continue;
    }
    // One gid: its rows one at a time, up to the first refused.
    for (const row of groups[0]) {
      const rowFailure = groups[0].length === 1 ? failure : await attempt([row], publish);
      if (rowFailure === undefined) {
        outcome.published.push(row);
        continue;
      }
      if (!mayBeTheRows(rowFailure)) return { ...outcome, stoppedBy: rowFailure };
      outcome.failed.push({ row, error: rowFailure });
      break;
    }
  }
  return outcome;
}

async function attempt(rows: ClaimedRow[], publish: PublishRows): Promise<AsanaStreamError | undefined> {
  try {
    await publish(rows);
    return undefined;
  } catch (error) {
    return classifyError(error);
  }
}

/**
 * How a refused row is recorded: one more attempt and the error; parked at once when Kafka
 * refused the row alone (a message refusal that is not `retriable` was this publish's own, and
 * the publish held only this row), or once it failed `maxAttempts` times.
 */
export function failureRecord({ row, error }: RowFailure, maxAttempts: number): FailureRecord {
  const attempts = row.attempts + 1;
  const refusedAlone = dispositionOf(error.code) === 'dead-letter' && !error.retriable;
  return {
    id: row.id,
    attempts,
    lastError: safeText(`${error.code}: ${error.message}`),
    park: refusedAlone || attempts >= maxAttempts,
  };
}
