import type { DataSource } from 'typeorm';

/**
 * The types of watched resource (`subscriptions.resource_type`) the enricher has a full resync
 * for; a resource of any other type (a portfolio, team, goal, …) is never listed or repaired,
 * which `asana-stream status` shows.
 */
export const RESYNCED_RESOURCE_TYPES: readonly string[] = ['project', 'task', 'workspace'];

/**
 * The types of watched resource Asana's Events API takes (`GET /events?resource=`: "a task,
 * project, or goal"; any other type, a workspace included, answers 400), which the enricher's
 * follower polls; a resource of any other type is not followed (its webhook and resyncs still
 * cover it), which `asana-stream status` shows.
 */
export const EVENTS_API_RESOURCE_TYPES: readonly string[] = ['task', 'project', 'goal'];

/**
 * Asks for a resync of a watched resource (`event_streams`): the enricher runs it (requests
 * first, oldest first). A request made while a run is under way makes another run follow it, since
 * the one under way may have listed the resource before what the request is about. A resource not
 * yet followed gets its row, so the request waits for its subscription to be active.
 */
/**
 * The `SET` assignments of a resync request on an `event_streams` row whose reason is the query
 * parameter `reason` (e.g. `$2`): asked for now unless a request already waits, and asked for again
 * (the new reason kept) when a run is under way. `table` names the row as the statement does.
 */
export function resyncRequestAssignments(reason: string, table = 'event_streams'): string {
  return `resync_requested_at = CASE WHEN ${table}.resync_started_at IS NOT NULL THEN now()
                                 ELSE COALESCE(${table}.resync_requested_at, now()) END,
      resync_reason = CASE WHEN ${table}.resync_started_at IS NOT NULL THEN ${reason}
                           ELSE COALESCE(${table}.resync_reason, ${reason}) END`;
}

export async function requestResync(
  dataSource: Pick<DataSource, 'query'>,
  resourceGid: string,
  reason: string,
): Promise<void> {
  await dataSource.query(
    /* sql */ `
    INSERT INTO event_streams (resource_gid, resync_requested_at, resync_reason) VALUES ($1, now(), $2)
    ON CONFLICT (resource_gid) DO UPDATE SET ${resyncRequestAssignments('EXCLUDED.resync_reason')}`,
    [resourceGid, reason],
  );
}

/**
 * Asks for a light sweep of a watched resource from `since` (`asana-stream reconcile --since`):
 * the enricher lists what Asana modified since then and repairs what Postgres lacks or holds
 * older, without a full resync. Two requests waiting make one sweep from the earlier time.
 */
export async function requestSweep(
  dataSource: Pick<DataSource, 'query'>,
  resourceGid: string,
  since: Date,
): Promise<void> {
  await dataSource.query(
    /* sql */ `
    INSERT INTO event_streams (resource_gid, sweep_requested_since) VALUES ($1, $2)
    ON CONFLICT (resource_gid) DO UPDATE
      SET sweep_requested_since = LEAST(event_streams.sweep_requested_since, EXCLUDED.sweep_requested_since)`,
    [resourceGid, since],
  );
}
