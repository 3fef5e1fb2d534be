import type { DataSource } from 'typeorm';
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
}

/**
 * A resync's place on its `event_streams` row (migration ResyncProgress1764720000000), with a
 * lease of its own apart from the follower's, and `resync_listed`, the tasks the run has listed
 * so far. Every write after the claim is conditional on still holding the lease.
 */
export class ResyncRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Asks for a resync of a resource (see `requestResync`). */
  request(resourceGid: string, reason: string): Promise<void> {
    return requestResync(this.dataSource, resourceGid, reason);
  }

  /**
   * Leases the resync most due: one asked for (oldest first), else a scheduled full one whose time
   * came; only of a resource still watched.
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
        }[],
        number,
      ]
    >(
      /* sql */ `
      UPDATE event_streams s
      SET resync_leased_until = now() + make_interval(secs => $1::double precision / 1000), resync_leased_by = $2,
          resync_started_at = COALESCE(s.resync_started_at, now()),
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
      RETURNING s.resource_gid, s.resync_reason, s.resync_offset, s.resync_pages, s.resync_checked`,
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
   * run did not list: gone from Asana, or moved out.
   */
  async vanishedTasks(resourceGid: string): Promise<{ gid: string; subtype: string | null }[]> {
    return this.dataSource.query<{ gid: string; subtype: string | null }[]>(
      /* sql */ `
      SELECT t.gid, t.state->>'resource_subtype' AS subtype FROM tasks t
      WHERE t.deleted_at IS NULL
        AND t.state->'projects' @> jsonb_build_array(jsonb_build_object('gid', $1::text))
        AND NOT EXISTS (SELECT 1 FROM resync_listed l WHERE l.resource_gid = $1 AND l.gid = t.gid)
      ORDER BY t.gid`,
      [resourceGid],
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
