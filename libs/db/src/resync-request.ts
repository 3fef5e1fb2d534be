import type { DataSource } from 'typeorm';

/**
 * Asks for a resync of a watched resource (`event_streams`): the enricher runs it (requests
 * first, oldest first). A request made while a run is under way makes another run follow it, since
 * the one under way may have listed the resource before what the request is about. A resource not
 * yet followed gets its row, so the request waits for its subscription to be active.
 */
export async function requestResync(
  dataSource: Pick<DataSource, 'query'>,
  resourceGid: string,
  reason: string,
): Promise<void> {
  await dataSource.query(
    /* sql */ `
    INSERT INTO event_streams (resource_gid, resync_requested_at, resync_reason) VALUES ($1, now(), $2)
    ON CONFLICT (resource_gid) DO UPDATE SET
      resync_requested_at = CASE WHEN event_streams.resync_started_at IS NOT NULL THEN now()
                                 ELSE COALESCE(event_streams.resync_requested_at, now()) END,
      resync_reason = CASE WHEN event_streams.resync_started_at IS NOT NULL THEN EXCLUDED.resync_reason
                           ELSE COALESCE(event_streams.resync_reason, EXCLUDED.resync_reason) END`,
    [resourceGid, reason],
  );
}
