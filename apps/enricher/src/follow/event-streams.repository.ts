import type { DataSource } from 'typeorm';
import { EVENTS_API_RESOURCE_TYPES, resyncRequestAssignments } from '@asana-stream/db';

/** A watched resource's place in Asana's Events API, as one replica holds it for one poll. */
export interface ClaimedStream {
  resourceGid: string;
  /** Null until Asana gave the first token (a 412 to a call without one). */
  syncToken: string | null;
  /** Polls of it that failed in a row, before this one. */
  pollsFailed: number;
  /** What the resource is (its active subscriptions' webhook `resource.resource_type`); null when none kept it yet. */
  resourceType: string | null;
  /** An active subscription's webhook, to ask Asana for the type when none is kept; null when none has one. */
  webhookGid: string | null;
}

/** A watched resource of a type Asana's Events API does not take: never polled. */
export interface UnfollowedResource {
  resourceGid: string;
  resourceType: string;
}

/** The type its active subscriptions keep for the resource of `event_streams` row `alias` (null: none yet). */
function watchedType(alias: string): string {
  return /* sql */ `(SELECT sub.resource_type FROM subscriptions sub
    WHERE sub.resource_gid = ${alias}.resource_gid AND sub.status = 'active' AND sub.resource_type IS NOT NULL
    ORDER BY sub.created_at DESC LIMIT 1)`;
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

  /**
   * Leases up to `limit` streams that are due and still watched, oldest due first; only of a type
   * Asana's Events API takes (`EVENTS_API_RESOURCE_TYPES`), or of a type not known yet (the poll
   * learns it first: `watchedResourceType`).
   */
  async claimDue(limit: number, leaseMs: number, holder: string): Promise<ClaimedStream[]> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [rows] = await this.dataSource.query<
      [
        {
          resource_gid: string;
          sync_token: string | null;
          polls_failed: number;
          resource_type: string | null;
          webhook_gid: string | null;
        }[],
        number,
      ]
    >(
      /* sql */ `
      UPDATE event_streams s
      SET leased_until = now() + make_interval(secs => $2::double precision / 1000), leased_by = $3
      WHERE s.resource_gid IN (
        SELECT e.resource_gid FROM event_streams e
        WHERE e.next_poll_at <= now()
          AND (e.leased_until IS NULL OR e.leased_until < now())
          AND EXISTS (SELECT 1 FROM subscriptions sub WHERE sub.resource_gid = e.resource_gid AND sub.status = 'active')
          AND COALESCE(${watchedType('e')} = ANY($4::text[]), true)
        ORDER BY e.next_poll_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
      RETURNING s.resource_gid, s.sync_token, s.polls_failed, ${watchedType('s')} AS resource_type,
        (SELECT sub.webhook_gid FROM subscriptions sub
         WHERE sub.resource_gid = s.resource_gid AND sub.status = 'active' AND sub.webhook_gid IS NOT NULL
         ORDER BY sub.created_at DESC LIMIT 1) AS webhook_gid`,
      [limit, leaseMs, holder, EVENTS_API_RESOURCE_TYPES],
    );
    return rows.map((row) => ({
      resourceGid: row.resource_gid,
      syncToken: row.sync_token,
      pollsFailed: row.polls_failed,
      resourceType: row.resource_type,
      webhookGid: row.webhook_gid,
    }));
  }

  /** The watched resources (active subscriptions) of a known type Asana's Events API does not take. */
  async unfollowed(): Promise<UnfollowedResource[]> {
    const rows = await this.dataSource.query<{ resource_gid: string; resource_type: string }[]>(
      /* sql */ `
      SELECT s.resource_gid, ${watchedType('s')} AS resource_type FROM event_streams s
      WHERE ${watchedType('s')} <> ALL($1::text[])
      ORDER BY s.resource_gid`,
      [EVENTS_API_RESOURCE_TYPES],
    );
    return rows.map((row) => ({ resourceGid: row.resource_gid, resourceType: row.resource_type }));
  }

  /**
   * A resource the follower does not follow: a failure recorded by an earlier poll of it (before
   * its type was known, or by a version that polled every type) is forgotten, so it does not show
   * as failing; and, unless it was ever resynced or a resync is asked for or running, its first
   * resync is asked for with `reason`, as a first read of the Events API would (nothing else would
   * ask: what happened before its webhook is only learnt by listing it).
   */
  async settleUnfollowed(resourceGid: string, reason: string): Promise<{ resyncRequested: boolean }> {
    await this.dataSource.query(
      /* sql */ `UPDATE event_streams SET polls_failed = 0, last_error = NULL
        WHERE resource_gid = $1 AND (polls_failed > 0 OR last_error IS NOT NULL)`,
      [resourceGid],
    );
    const [, affected] = await this.dataSource.query<[unknown[], number]>(
      /* sql */ `UPDATE event_streams SET resync_requested_at = now(), resync_reason = $2
        WHERE resource_gid = $1 AND last_resync_at IS NULL AND resync_requested_at IS NULL AND resync_started_at IS NULL`,
      [resourceGid, reason],
    );
    return { resyncRequested: affected > 0 };
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

  /** Lets a stream go without a poll (its resource turned out not to be followed). */
  async letGo(resourceGid: string, holder: string): Promise<boolean> {
    return this.whileLeased(/* sql */ `leased_until = NULL, leased_by = NULL`, [resourceGid, holder]);
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
