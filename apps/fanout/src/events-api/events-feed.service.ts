import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { routeMatches, type RoutableChange, type RouteFilter } from '@asana-stream/contracts';
import { EventsApiError } from './events-api.errors';
import { EventsFeedRepository, type FeedBounds, type FeedRow } from './events-feed.repository';
import type { FeedStart } from './feed-query';

/** A page of the feed and where the next read starts. */
export interface FeedPage {
  rows: FeedRow[];
  /** The position the next read goes on after: the last row's, or the head when the page was not full. */
  next: bigint;
  /** The page was full: more changes may be waiting. */
  hasMore: boolean;
}

/** Rows read per statement when a route's filter picks among them. */
const ROUTE_SCAN_ROWS = 500;
/** Rows a page of a route scans at most: a route matching little answers a short (even empty) page with `hasMore` and a cursor past what it scanned. */
export const ROUTE_SCAN_MAX = 5000;

/**
 * Reads the feed for the Events API: where a read starts, and pages after a position, refusing
 * (410) a position retention has moved past, so a consumer never skips changes without knowing.
 */
@Injectable()
export class EventsFeedService {
  constructor(
    private readonly feed: EventsFeedRepository,
    @Inject(APP_CONFIG) private readonly config: FanoutConfig,
  ) {}

  /** The position a read from `start` goes on after. */
  async startPosition(start: FeedStart): Promise<bigint> {
    const bounds = await this.feed.bounds();
    switch (start.kind) {
      case 'oldest':
        return bounds.deletedThrough;
      case 'cursor':
        this.checkCursor(start.position, bounds);
        return start.position;
      case 'since':
        if (bounds.deletedUntil && start.since.getTime() <= bounds.deletedUntil.getTime()) {
          throw this.expired(
            `changes published up to ${bounds.deletedUntil.toISOString()} are past the feed's retention and deleted`,
          );
        }
        return this.feed.positionBefore(start.since);
    }
  }

  /**
   * Up to `limit` changes after `after`, of `types` (null: all), matching `filter` (a route's;
   * null: all), in feed order. A route's page reads `ROUTE_SCAN_ROWS` rows per statement and
   * keeps those that match, scanning at most `ROUTE_SCAN_MAX` rows; its `next` is past every row
   * it scanned, so the next read never scans them again.
   */
  async page(
    after: bigint,
    limit: number,
    types: readonly string[] | null,
    filter: RouteFilter | null = null,
  ): Promise<FeedPage> {
    if (filter) return this.routePage(after, limit, types, filter);
    const read = await this.feed.readAfter(after, limit, types);
    this.checkCursor(after, read);
    const full = read.rows.length === limit;
    return { rows: read.rows, next: full ? read.rows[read.rows.length - 1].position : read.head, hasMore: full };
  }

  private async routePage(
    after: bigint,
    limit: number,
    types: readonly string[] | null,
    filter: RouteFilter,
  ): Promise<FeedPage> {
    const rows: FeedRow[] = [];
    let position = after;
    for (let scanned = 0; ;) {
      const read = await this.feed.readAfter(position, ROUTE_SCAN_ROWS, types);
      if (scanned === 0) this.checkCursor(after, read);
      for (const row of read.rows) {
        position = row.position;
        scanned++;
        if (!routeMatches(filter, JSON.parse(row.change) as RoutableChange)) continue;
        rows.push(row);
        if (rows.length === limit) return { rows, next: row.position, hasMore: true };
      }
      // Every row up to the head was in this read: the next one goes on from the head.
      if (read.rows.length < ROUTE_SCAN_ROWS) return { rows, next: read.head, hasMore: false };
      if (scanned >= ROUTE_SCAN_MAX) return { rows, next: position, hasMore: true };
    }
  }

  private checkCursor(position: bigint, bounds: Pick<FeedBounds, 'head' | 'deletedThrough'>): void {
    if (position < bounds.deletedThrough) {
      throw this.expired("changes after this cursor are past the feed's retention and deleted");
    }
    if (position > bounds.head) {
      throw new EventsApiError(
        'CURSOR_EXPIRED',
        'this cursor is ahead of the feed: it comes from another installation, or the database was restored from a backup. Start again without a cursor, or with since=<time>, and dedupe by changeId',
      );
    }
  }

  private expired(what: string): EventsApiError {
    const hours = this.config.fanout.FANOUT_RETENTION_HOURS;
    return new EventsApiError(
      'CURSOR_EXPIRED',
      `${what} (the feed keeps ${hours} h, FANOUT_RETENTION_HOURS). Start again without a cursor (the oldest change kept) or with since=<time>, and fill the gap from your own copy or a replay of the Kafka topic`,
    );
  }
}
