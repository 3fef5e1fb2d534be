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

interface RawRead {
  head: string;
  deleted_through: string;
  rows: { position: string; id: string; gid: string; type: string; change: string }[];
}

/**
 * One statement, so the head and the rows come from one snapshot: positions are handed out in
 * commit order (see the events-feed migration), so every position up to the head that still
 * exists is among the rows this snapshot can see.
 */
const READ_AFTER = /* sql */ `
  SELECT f.last_position::text AS head, f.deleted_through::text AS deleted_through,
         coalesce((SELECT json_agg(json_build_object('position', r.position::text, 'id', r.id::text,
                                                     'gid', r.gid, 'type', r.type, 'change', r.change::text)
                                   ORDER BY r.position) FROM (
           SELECT o.feed_position AS position, o.id, o.gid, o.type, o.change
           FROM outbox o
           WHERE o.feed_position > $1::bigint AND ($3::text[] IS NULL OR o.type = ANY($3::text[]))
           ORDER BY o.feed_position LIMIT $2) r), '[]'::json) AS rows
  FROM events_feed f`;

/** The Events API's reads of the ordered change log (`outbox.feed_position`). */
@Injectable()
export class EventsFeedRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Up to `limit` changes after `after`, in feed order, of `types` (null: all). */
  async readAfter(after: bigint, limit: number, types: readonly string[] | null): Promise<FeedRead> {
    const [raw] = await this.dataSource.query<RawRead[]>(READ_AFTER, [after.toString(), limit, types]);
    return {
      head: BigInt(raw.head),
      deletedThrough: BigInt(raw.deleted_through),
      rows: raw.rows.map((r) => ({ ...r, position: BigInt(r.position) })),
    };
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
