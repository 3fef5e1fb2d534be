import type { DataSource, EntityManager } from 'typeorm';
import { requestResync } from '@asana-stream/db';
import type { RepairCause } from './resync-plan';

/** A resync one replica holds: where its listing is, and what it has done so far. */
export interface ClaimedResync {
  resourceGid: string;
  reason: string;
  /** The next page's offset; null before the first page, and once the listing is done. */
  offset: string | null;
  /** Pages saved so far in this run (0: the run starts now). */
  pages: number;
  checked: number;
  /** What the resource is (its active subscriptions' webhook `resource.resource_type`); null when none kept it yet. */
  resourceType: string | null;
  /** An active subscription's webhook, to ask Asana for the type when none is kept; null when none has one. */
  webhookGid: string | null;
}

/** A live task the projection holds in a resource that its resync did not list. */
export interface VanishedTask {
  gid: string;
  subtype: string | null;
  /** The version the projection holds. */
  version: number;
}

/** A live resource the projection holds in a resource that its resync did not list. */
export interface VanishedResource {
  gid: string;
  subtype: string | null;
  /** The version the projection holds. */
  version: number;
}

/** A light sweep one replica holds: the resource, and from when it lists what Asana modified. */
export interface ClaimedSweep {
  resourceGid: string;
  /** What the resource is (see `ClaimedResync.resourceType`). */
  resourceType: string | null;
  since: Date;
  /** When this sweep started (Postgres' clock): the next one lists from here, less the overlap. */
  startedAt: Date;
  /** The `reconcile --since` time it answers; null for a scheduled sweep. */
  requestedSince: Date | null;
}

/** The type its active subscriptions keep for the resource of `event_streams` row `s` (null: none yet). */
const WATCHED_TYPE = /* sql */ `(SELECT sub.resource_type FROM subscriptions sub
  WHERE sub.resource_gid = s.resource_gid AND sub.status = 'active' AND sub.resource_type IS NOT NULL
  ORDER BY sub.created_at DESC LIMIT 1)`;

/**
 * A resync's place on its `event_streams` row (migration ResyncProgress1764720000000), with a
 * lease of its own apart from the follower's, and `resync_listed`, the tasks the run has listed
 * so far. Every write after the claim is conditional on still holding the lease.
 */
export class ResyncRepository {
  /** On the app's DataSource; or on one transaction's EntityManager, its statements then part of it. */
  constructor(private readonly dataSource: DataSource | EntityManager) {}

  /** Asks for a resync of a resource (see `requestResync`). */
  request(resourceGid: string, reason: string): Promise<void> {
    return requestResync(this.dataSource, resourceGid, reason);
  }

  /**
   * Leases the resync most due: one asked for (oldest first), else a scheduled full one whose time
   * came; only of a resource still watched.
   *
   * The run's start is `clock_timestamp()`, read as the row is updated, not `now()`: `now()` is
   * when the statement's transaction began, and a request committed after that but before the
   * statement's snapshot is seen (and answered) by this run while its time is later than that
   * start, so `finish` took it for one made during the run and ran the resync again.
   */
  async claim(leaseMs: number, holder: string): Promise<ClaimedResync | null> {
    const [rows] = await this.dataSource.query<
      [
        {
          resource_gid: string;
          resync_reason: string;
          resync_offset: string | null;
          resync_pages: number;
          resync_checked: number;
          resource_type: string | null;
          webhook_gid: string | null;
        }[],
        number,
      ]
    >(
      /* sql */ `
      UPDATE event_streams s
      SET resync_leased_until = now() + make_interval(secs => $1::double precision / 1000), resync_leased_by = $2,
          resync_started_at = COALESCE(s.resync_started_at, clock_timestamp()),
          resync_requested_at = COALESCE(s.resync_requested_at, now()),
          resync_reason = COALESCE(s.resync_reason, 'the scheduled full resync')
      WHERE s.resource_gid = (
        SELECT e.resource_gid FROM event_streams e
        WHERE (e.resync_requested_at IS NOT NULL OR e.next_full_resync_at <= now())
          AND (e.resync_leased_until IS NULL OR e.resync_leased_until < now())
          AND EXISTS (SELECT 1 FROM subscriptions sub WHERE sub.resource_gid = e.resource_gid AND sub.status = 'active')
        ORDER BY e.resync_requested_at NULLS LAST, e.next_full_resync_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
      RETURNING s.resource_gid, s.resync_reason, s.resync_offset, s.resync_pages, s.resync_checked,
        ${WATCHED_TYPE} AS resource_type,
        (SELECT sub.webhook_gid FROM subscriptions sub
         WHERE sub.resource_gid = s.resource_gid AND sub.status = 'active' AND sub.webhook_gid IS NOT NULL
         ORDER BY sub.created_at DESC LIMIT 1) AS webhook_gid`,
      [leaseMs, holder],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      resourceGid: row.resource_gid,
      reason: row.resync_reason,
      offset: row.resync_offset,
      pages: row.resync_pages,
      checked: row.resync_checked,
      resourceType: row.resource_type,
      webhookGid: row.webhook_gid,
    };
  }

  /** A fresh run forgets what an abandoned one had listed. */
  async startListing(resourceGid: string): Promise<void> {
    await this.dataSource.query(/* sql */ `DELETE FROM resync_listed WHERE resource_gid = $1`, [resourceGid]);
  }

  /**
   * Saves a page once its repairs are in Kafka: the gids it listed, the next offset, the counts,
   * and the lease renewed. False (nothing saved) when the lease was lost.
   */
  async savePage(
    resourceGid: string,
    holder: string,
    page: { listed: readonly string[]; nextOffset: string | null; repairs: Record<RepairCause, number> },
    leaseMs: number,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [, affected] = await manager.query<[unknown[], number]>(
        /* sql */ `
        UPDATE event_streams SET resync_offset = $3, resync_pages = resync_pages + 1,
          resync_checked = resync_checked + $4, repairs_missing = repairs_missing + $5,
          repairs_stale = repairs_stale + $6,
          resync_leased_until = now() + make_interval(secs => $7::double precision / 1000)
        WHERE resource_gid = $1 AND resync_leased_by = $2 AND resync_leased_until > now()`,
        [resourceGid, holder, page.nextOffset, page.listed.length, page.repairs.missing, page.repairs.stale, leaseMs],
      );
      if (affected === 0) return false;
      await manager.query(
        /* sql */ `INSERT INTO resync_listed (resource_gid, gid) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`,
        [resourceGid, page.listed],
      );
      return true;
    });
  }

  /**
   * The projection's live tasks in the resource (by the `projects` their state lists) that this
   * run did not list: gone from Asana, or moved out. A task the projection took after the run
   * started is left out: it may have been added after its page was listed (a false "vanished"
   * would cost a fetch and leave a divergence with nothing to resolve it), and if it did vanish
   * the next run finds it.
   */
  async vanishedTasks(resourceGid: string): Promise<VanishedTask[]> {
    const rows = await this.dataSource.query<{ gid: string; subtype: string | null; version: string }[]>(
      /* sql */ `
      SELECT t.gid, t.state->>'resource_subtype' AS subtype, t.version::text AS version FROM tasks t
      WHERE t.deleted_at IS NULL
        AND t.state->'projects' @> jsonb_build_array(jsonb_build_object('gid', $1::text))
        AND NOT EXISTS (SELECT 1 FROM resync_listed l WHERE l.resource_gid = $1 AND l.gid = t.gid)
        AND t.updated_at < COALESCE((SELECT resync_started_at FROM event_streams WHERE resource_gid = $1), now())
      ORDER BY t.gid`,
      [resourceGid],
    );
    return rows.map((row) => ({ gid: row.gid, subtype: row.subtype, version: Number(row.version) }));
  }

  /**
   * The projection's live subtasks of a watched task (by the `parent` their state names) that
   * this run did not list: deleted, or moved to another parent. Left out, as in `vanishedTasks`:
   * one the projection took after the run started.
   */
  async vanishedSubtasks(taskGid: string): Promise<VanishedResource[]> {
    return this.vanishedIn('tasks', /* sql */ `t.state->'parent'->>'gid' = $1`, taskGid);
  }

  /**
   * The projection's live stories of a watched task (by the `target` their state names: the
   * enricher fetches stories whole, target included) that this run did not list: deleted.
   */
  async vanishedStories(taskGid: string): Promise<VanishedResource[]> {
    return this.vanishedIn('resources', /* sql */ `t.type = 'story' AND t.state->'target'->>'gid' = $1`, taskGid);
  }

  /** The projection's live projects of a watched workspace (`workspace_gid`) that this run did not list. */
  async vanishedProjects(workspaceGid: string): Promise<VanishedResource[]> {
    return this.vanishedIn('projects', /* sql */ `t.workspace_gid = $1`, workspaceGid);
  }

  private async vanishedIn(
    table: 'tasks' | 'projects' | 'resources',
    inResource: string,
    resourceGid: string,
  ): Promise<VanishedResource[]> {
    const rows = await this.dataSource.query<{ gid: string; subtype: string | null; version: string }[]>(
      /* sql */ `
      SELECT t.gid, t.state->>'resource_subtype' AS subtype, t.version::text AS version FROM ${table} t
      WHERE t.deleted_at IS NULL AND ${inResource}
        AND NOT EXISTS (SELECT 1 FROM resync_listed l WHERE l.resource_gid = $1 AND l.gid = t.gid)
        AND t.updated_at < COALESCE((SELECT resync_started_at FROM event_streams WHERE resource_gid = $1), now())
      ORDER BY t.gid`,
      [resourceGid],
    );
    return rows.map((row) => ({ gid: row.gid, subtype: row.subtype, version: Number(row.version) }));
  }

  /** Keeps what a watched resource is, learnt from its webhook, on its subscriptions that lack it. */
  async rememberResourceType(resourceGid: string, resourceType: string): Promise<void> {
    await this.dataSource.query(
      /* sql */ `UPDATE subscriptions SET resource_type = $2 WHERE resource_gid = $1 AND resource_type IS NULL`,
      [resourceGid, resourceType],
    );
  }

  /**
   * Ends a run: counts kept, the request cleared (unless another came during the run: then it
   * runs again), the next scheduled one set, the listing forgotten. False when the lease was lost.
   */
  async finish(resourceGid: string, holder: string, vanished: number, fullIntervalMs: number): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [, affected] = await manager.query<[unknown[], number]>(
        /* sql */ `
        UPDATE event_streams SET repairs_vanished = repairs_vanished + $3, last_resync_at = now(),
          last_resync_error = NULL,
          swept_through = GREATEST(swept_through, resync_started_at),
          resync_reason = CASE WHEN resync_requested_at > resync_started_at THEN resync_reason END,
          resync_requested_at = CASE WHEN resync_requested_at > resync_started_at THEN resync_requested_at END,
          resync_started_at = NULL, resync_offset = NULL, resync_pages = 0, resync_checked = 0,
          resync_leased_until = NULL, resync_leased_by = NULL,
          next_full_resync_at = now() + make_interval(secs => $4::double precision / 1000)
        WHERE resource_gid = $1 AND resync_leased_by = $2 AND resync_leased_until > now()`,
        [resourceGid, holder, vanished, fullIntervalMs],
      );
      if (affected === 0) return false;
      await manager.query(/* sql */ `DELETE FROM resync_listed WHERE resource_gid = $1`, [resourceGid]);
      return true;
    });
  }

  /**
   * Leases the light sweep most due, when no resync is asked for or running on the resource (a
   * resync lists everything anyway): one asked for with `reconcile --since` first, else a scheduled
   * one whose interval has passed since the last sweep (light or full) started. A resource never
   * swept in full has nothing to sweep from: its first resync comes first. It lists from the
   * requested time, or from the last sweep's start less `overlapMs`.
   */
  async claimSweep(
    leaseMs: number,
    holder: string,
    intervalMs: number,
    overlapMs: number,
  ): Promise<ClaimedSweep | null> {
    const [rows] = await this.dataSource.query<
      [
        {
          resource_gid: string;
          resource_type: string | null;
          since: Date;
          started_at: Date;
          requested_since: Date | null;
        }[],
        number,
      ]
    >(
      /* sql */ `
      UPDATE event_streams s
      SET resync_leased_until = now() + make_interval(secs => $1::double precision / 1000), resync_leased_by = $2,
          sweep_started_at = now()
      WHERE s.resource_gid = (
        SELECT e.resource_gid FROM event_streams e
        WHERE (e.sweep_requested_since IS NOT NULL
               OR ($3 > 0 AND e.swept_through <= now() - make_interval(secs => $3::double precision / 1000)))
          AND e.resync_requested_at IS NULL AND e.resync_started_at IS NULL
          AND (e.resync_leased_until IS NULL OR e.resync_leased_until < now())
          AND EXISTS (SELECT 1 FROM subscriptions sub WHERE sub.resource_gid = e.resource_gid AND sub.status = 'active')
        ORDER BY e.sweep_requested_since NULLS LAST, e.swept_through
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
      RETURNING s.resource_gid, ${WATCHED_TYPE} AS resource_type, s.sweep_started_at AS started_at, s.sweep_requested_since AS requested_since,
        COALESCE(s.sweep_requested_since, s.swept_through - make_interval(secs => $4::double precision / 1000)) AS since`,
      [leaseMs, holder, intervalMs, overlapMs],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      resourceGid: row.resource_gid,
      resourceType: row.resource_type,
      since: row.since,
      startedAt: row.started_at,
      requestedSince: row.requested_since,
    };
  }

  /** Renews a light sweep's lease between pages; false when it was lost. */
  async renewSweep(resourceGid: string, holder: string, leaseMs: number): Promise<boolean> {
    const [, affected] = await this.dataSource.query<[unknown[], number]>(
      /* sql */ `
      UPDATE event_streams SET resync_leased_until = now() + make_interval(secs => $3::double precision / 1000)
      WHERE resource_gid = $1 AND resync_leased_by = $2 AND resync_leased_until > now()`,
      [resourceGid, holder, leaseMs],
    );
    return affected > 0;
  }

  /**
   * Ends a light sweep that listed everything since `claim.since`: its repairs counted, the
   * request it answered cleared (one from an earlier time, asked for meanwhile, stays), and `swept_through` moved to its
   * start when it covered the time since the previous sweep (a requested sweep from a later
   * time leaves a gap, so it does not). False when the lease was lost.
   */
  async finishSweep(
    claim: ClaimedSweep,
    holder: string,
    repairs: Pick<Record<RepairCause, number>, 'missing' | 'stale'>,
  ): Promise<boolean> {
    const [, affected] = await this.dataSource.query<[unknown[], number]>(
      /* sql */ `
      UPDATE event_streams SET last_sweep_at = now(), last_resync_error = NULL,
        repairs_missing = repairs_missing + $4, repairs_stale = repairs_stale + $5,
        swept_through = CASE WHEN swept_through IS NOT NULL AND $3 <= swept_through
                             THEN GREATEST(swept_through, sweep_started_at) ELSE swept_through END,
        sweep_requested_since = CASE WHEN $6::timestamptz IS NULL OR sweep_requested_since < $6::timestamptz
                                     THEN sweep_requested_since END,
        sweep_started_at = NULL, resync_leased_until = NULL, resync_leased_by = NULL
      WHERE resource_gid = $1 AND resync_leased_by = $2 AND resync_leased_until > now()`,
      [claim.resourceGid, holder, claim.since, repairs.missing, repairs.stale, claim.requestedSince],
    );
    return affected > 0;
  }

  /** A light sweep that failed: tried again after `retryInMs` (the lease, unheld, marks when). */
  async failSweep(resourceGid: string, holder: string, error: string, retryInMs: number): Promise<void> {
    await this.dataSource.query(
      /* sql */ `
      UPDATE event_streams SET last_resync_error = $3, resync_leased_by = NULL, sweep_started_at = NULL,
        resync_leased_until = now() + make_interval(secs => $4::double precision / 1000)
      WHERE resource_gid = $1 AND resync_leased_by = $2`,
      [resourceGid, holder, error, retryInMs],
    );
  }

  /**
   * A run that failed: tried again after `retryInMs` (the lease, unheld, marks when), from where
   * it was, or from the start when `restart` (Asana forgot the offset).
   */
  async fail(resourceGid: string, holder: string, error: string, retryInMs: number, restart: boolean): Promise<void> {
    await this.dataSource.query(
      /* sql */ `
      UPDATE event_streams SET last_resync_error = $3, resync_leased_by = NULL,
        resync_leased_until = now() + make_interval(secs => $4::double precision / 1000),
        resync_offset = CASE WHEN $5 THEN NULL ELSE resync_offset END,
        resync_pages = CASE WHEN $5 THEN 0 ELSE resync_pages END,
        resync_checked = CASE WHEN $5 THEN 0 ELSE resync_checked END
      WHERE resource_gid = $1 AND resync_leased_by = $2`,
      [resourceGid, holder, error, retryInMs, restart],
    );
  }
}
