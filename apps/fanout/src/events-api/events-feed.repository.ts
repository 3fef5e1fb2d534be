import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** A change in the feed, as the outbox stores it. */
export interface FeedRow {
  position: bigint;
  /** The outbox id: the change's `changeId`. */
  id: string;
  gid: string;
  type: string;
  /** The change message without `changeId`, as JSON text (what the relay published). */
  change: string;
}

/** One read of the feed, all from one snapshot. */
export interface FeedRead {
  rows: FeedRow[];
  /** The last position handed out: every position up to it had committed when this was read. */
  head: bigint;
  /** The highest position the retention job deleted: a cursor below it may have missed changes. */
  deletedThrough: bigint;
}

/** Where the feed stands: its head and what retention removed. */
export interface FeedBounds {
  head: bigint;
  deletedThrough: bigint;
  /** The latest publish time among the changes retention deleted; null before it deleted any. */
  deletedUntil: Date | null;
}

interface RawRow {
  head: string;
  deleted_through: string;
  /** Null on the one row a read without changes returns (it still carries the head). */
  position: string | null;
  id: string;
  gid: string;
  type: string;
  change: string;
}

/**
 * One statement, so the head and the rows come from one snapshot: positions are handed out in
 * commit order (see the events-feed migration), so every position up to the head that still
 * exists is among the rows this snapshot can see. Each row carries the head (a read with no
 * change returns one row of nulls with it), and the changes come as the text stored (`json`):
 * no aggregate to build and parse again, nothing to re-serialise. The head is read by scalar
 * subqueries over a one-row VALUES, not a join with `events_feed`: the planner takes a never
 * analysed table for 1,540 rows, and a join's estimate that large crossed Postgres' JIT threshold
 * (tens of milliseconds of compilation per read).
 */
const READ_AFTER = /* sql */ `
  SELECT (SELECT last_position FROM events_feed)::text AS head,
         (SELECT deleted_through FROM events_feed)::text AS deleted_through,
         r.feed_position::text AS position, r.id::text AS id, r.gid, r.type, r.change::text AS change
  FROM (VALUES (1)) AS one(n)
  LEFT JOIN LATERAL (
    SELECT o.feed_position, o.id, o.gid, o.type, o.change
    FROM outbox o
    WHERE o.feed_position > $1::bigint AND ($3::text[] IS NULL OR o.type = ANY($3::text[]))
    ORDER BY o.feed_position LIMIT $2
  ) r ON true
  ORDER BY r.feed_position`;

/** The Events API's reads of the ordered change log (`outbox.feed_position`). */
@Injectable()
export class EventsFeedRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Up to `limit` changes after `after`, in feed order, of `types` (null: all). */
  async readAfter(after: bigint, limit: number, types: readonly string[] | null): Promise<FeedRead> {
    const raw = await this.dataSource.query<RawRow[]>(READ_AFTER, [after.toString(), limit, types]);
    const rows: FeedRow[] = [];
    for (const r of raw) {
      if (r.position !== null)
        rows.push({ position: BigInt(r.position), id: r.id, gid: r.gid, type: r.type, change: r.change });
    }
    return { head: BigInt(raw[0].head), deletedThrough: BigInt(raw[0].deleted_through), rows };
  }

  async bounds(): Promise<FeedBounds> {
    const [raw] = await this.dataSource.query<
      { head: string; deleted_through: string; deleted_until: Date | null }[]
    >(/* sql */ `SELECT last_position::text AS head, deleted_through::text AS deleted_through, deleted_until
                 FROM events_feed`);
    return { head: BigInt(raw.head), deletedThrough: BigInt(raw.deleted_through), deletedUntil: raw.deleted_until };
  }

  /**
   * The position just before the first change that joined the feed at or after `since` (the time
   * the relay published it): reading after it starts at that change. The head when none did.
   */
  async positionBefore(since: Date): Promise<bigint> {
    const [raw] = await this.dataSource.query<{ first: string | null; head: string }[]>(
      /* sql */ `SELECT (SELECT min(feed_position) FROM outbox
                         WHERE feed_position IS NOT NULL AND published_at >= $1)::text AS first,
                        last_position::text AS head
                 FROM events_feed`,
      [since],
    );
    return raw.first === null ? BigInt(raw.head) : BigInt(raw.first) - 1n;
  }
}
