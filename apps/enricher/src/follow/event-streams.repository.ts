import type { DataSource } from 'typeorm';
import { resyncRequestAssignments } from '@asana-stream/db';

/** A watched resource's place in Asana's Events API, as one replica holds it for one poll. */
export interface ClaimedStream {
  resourceGid: string;
  /** Null until Asana gave the first token (a 412 to a call without one). */
  syncToken: string | null;
  /** Polls of it that failed in a row, before this one. */
  pollsFailed: number;
}

/** What one poll left, counted in `event_streams`. */
export interface PollProgress {
  syncToken: string;
  /** Events read from Asana in the page(s) now durable. */
  eventsRead: number;
  /** Of those, the ones the projection did not reflect, published to `asana.events`. */
  eventsPublished: number;
  /** `created_at` of the newest event read, if any. */
  lastEventAt: string | null;
}

/**
 * `event_streams` (migration EventStreams1764633600000): one row per resource an active
 * subscription watches. A replica claims due rows with a lease (`FOR UPDATE SKIP LOCKED`, so
 * replicas split them and never poll one resource at once); every later write is conditional on
 * still holding the lease, so a replica that stalled past it cannot move a token back.
 */
export class EventStreamsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Adds a row for every resource an active subscription watches and none has yet. */
  async registerWatchedResources(): Promise<number> {
    const rows = await this.dataSource.query<unknown[]>(/* sql */ `
      INSERT INTO event_streams (resource_gid)
      SELECT DISTINCT resource_gid FROM subscriptions WHERE status = 'active'
      ON CONFLICT (resource_gid) DO NOTHING
      RETURNING resource_gid`);
    return rows.length;
  }

  /** Leases up to `limit` streams that are due and still watched, oldest due first. */
  async claimDue(limit: number, leaseMs: number, holder: string): Promise<ClaimedStream[]> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows] = await this.dataSource.query<
      [{ resource_gid: string; sync_token: string | null; polls_failed: number }[], number]
    >(
      /* sql */ `
      UPDATE event_streams s
      SET leased_until = now() + make_interval(secs => $2::double precision / 1000), leased_by = $3
      WHERE s.resource_gid IN (
        SELECT e.resource_gid FROM event_streams e
        WHERE e.next_poll_at <= now()
          AND (e.leased_until IS NULL OR e.leased_until < now())
          AND EXISTS (SELECT 1 FROM subscriptions sub WHERE sub.resource_gid = e.resource_gid AND sub.status = 'active')
        ORDER BY e.next_poll_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
      RETURNING s.resource_gid, s.sync_token, s.polls_failed`,
      [limit, leaseMs, holder],
    );
    return rows.map((row) => ({
      resourceGid: row.resource_gid,
      syncToken: row.sync_token,
      pollsFailed: row.polls_failed,
    }));
  }

  /** Saves the token after what was read before it is durable; false when the lease was lost. */
  async advance(resourceGid: string, holder: string, progress: PollProgress): Promise<boolean> {
    return this.whileLeased(
      /* sql */ `sync_token = $3, events_read = events_read + $4, events_published = events_published + $5,
        last_event_at = COALESCE($6::timestamptz, last_event_at)`,
      [resourceGid, holder, progress.syncToken, progress.eventsRead, progress.eventsPublished, progress.lastEventAt],
    );
  }

  /**
   * Asana no longer knows the token (or there was none): the fresh one marks "now", and what
   * happened before it is only known by a resync of the resource, asked for here (an earlier
   * request still waiting keeps its reason).
   */
  async restart(resourceGid: string, holder: string, syncToken: string, reason: string): Promise<boolean> {
    return this.whileLeased(
      // A resync under way may have listed the resource before what was lost: another one follows it.
      `sync_token = $3, ${resyncRequestAssignments('$4')}`,
      [resourceGid, holder, syncToken, reason],
    );
  }

  /** Ends a poll that went well: the stream is due again after `intervalMs`. */
  async release(resourceGid: string, holder: string, intervalMs: number): Promise<boolean> {
    return this.whileLeased(
      /* sql */ `leased_until = NULL, leased_by = NULL, last_polled_at = now(), polls_failed = 0, last_error = NULL,
        next_poll_at = now() + make_interval(secs => $3::double precision / 1000)`,
      [resourceGid, holder, intervalMs],
    );
  }

  /** Ends a poll that failed: tried again after `retryInMs`, the failure kept for `status`. */
  async releaseFailed(resourceGid: string, holder: string, retryInMs: number, error: string): Promise<boolean> {
    return this.whileLeased(
      /* sql */ `leased_until = NULL, leased_by = NULL, last_polled_at = now(), polls_failed = polls_failed + 1,
        last_error = $4, next_poll_at = now() + make_interval(secs => $3::double precision / 1000)`,
      [resourceGid, holder, retryInMs, error],
    );
  }

  /**
   * The projection's version of each gid it holds (any table): an event at or before it is
   * already reflected there, whichever way it arrived.
   */
  async projectedVersions(gids: readonly string[]): Promise<Map<string, number>> {
    if (gids.length === 0) return new Map();
    const rows = await this.dataSource.query<{ gid: string; version: string }[]>(
      /* sql */ `
      SELECT gid, version::text AS version FROM tasks WHERE gid = ANY($1::text[])
      UNION ALL SELECT gid, version::text FROM projects WHERE gid = ANY($1::text[])
      UNION ALL SELECT gid, version::text FROM resources WHERE gid = ANY($1::text[])`,
      [gids],
    );
    return new Map(rows.map((row) => [row.gid, Number(row.version)]));
  }

  private async whileLeased(assignments: string, parameters: unknown[]): Promise<boolean> {
    const [, affected] = await this.dataSource.query<[unknown[], number]>(
      /* sql */ `UPDATE event_streams SET ${assignments}
        WHERE resource_gid = $1 AND leased_by = $2 AND leased_until > now()`,
      parameters,
    );
    return affected > 0;
  }
}
