import { once } from 'node:events';
import { Controller, Get, Inject, Logger, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { classifyError } from '@asana-stream/errors';
import { changeValue } from '../relay/relay-batch';
import { ConsumerAuthService } from './consumer-auth.service';
import { eventsApiChanges, eventsApiRequests, eventsApiStreams } from './events-api-metrics';
import { EventsApiError } from './events-api.errors';
import { EventsFeedService, type FeedPage } from './events-feed.service';
import { encodeCursor } from './feed-cursor';
import { FeedListener } from './feed-listener';
import { parseFeedQuery, routeToRead, typesToRead, type FeedQuery } from './feed-query';
import type { RouteFilter } from '@asana-stream/contracts';
import { RouteTable } from '../routes/route-table.service';

/** Changes per read of a stream. */
const STREAM_PAGE = 500;

type Endpoint = 'poll' | 'stream';

/** The page as the poll answers it: the changes byte for byte as Kafka carries them. */
function pageBody(page: FeedPage): string {
  const changes = page.rows.map((row) => changeValue(row.change, row.id)).join(',');
  return `{"changes":[${changes}],"next":"${encodeCursor(page.next)}","hasMore":${page.hasMore}}`;
}

/** Aborts when the response closes (the client went away, or it was answered) or the app stops. */
function requestSignal(res: Response, shutdown: AbortSignal): AbortSignal {
  const closed = new AbortController();
  res.once('close', () => closed.abort());
  return AbortSignal.any([closed.signal, shutdown]);
}

/**
 * The Events API: the ordered log of every change fanout published, for consumers without Kafka.
 *
 * - `GET /events?after=<cursor>|since=<time>&limit=&types=&route=&wait=`: a page of changes, each
 *   exactly the `asana.changes.<type>` message, and `next`, the cursor to pass as `after` next.
 *   With `wait=N` an empty read waits up to N s for a change (long-poll).
 * - `GET /events/stream` (same parameters but `wait`, or `Last-Event-ID`): Server-Sent Events,
 *   one `change` event per change, its `id` the cursor after it, so a reconnecting client resumes
 *   where it was.
 *
 * Order: the relay gives each published change a feed position in commit order, so reading after
 * a cursor never skips a change that committed late. Every caller needs a consumer's token.
 */
@Controller('events')
export class EventsApiController {
  private readonly log = new Logger(EventsApiController.name);

  constructor(
    private readonly auth: ConsumerAuthService,
    private readonly feed: EventsFeedService,
    private readonly listener: FeedListener,
    private readonly routes: RouteTable,
    @Inject(APP_CONFIG) private readonly config: FanoutConfig,
  ) {}

  @Get()
  async poll(@Req() req: Request, @Res() res: Response): Promise<void> {
    try {
      const { query, types, filter } = await this.admit(req);
      const gone = requestSignal(res, this.listener.shutdown);
      const deadline = Date.now() + query.waitSeconds * 1000;
      let after = await this.feed.startPosition(query.start);
      let page: FeedPage;
      for (;;) {
        const seen = this.listener.notifications.seen;
        page = await this.feed.page(after, query.limit, types, filter);
        const left = deadline - Date.now();
        if (page.rows.length > 0 || left <= 0 || gone.aborted) break;
        after = page.next;
        if (page.hasMore) continue; // a route's scan ran out of budget with more to scan
        await this.listener.notifications.wait(Math.min(left, this.config.fanout.FANOUT_POLL_INTERVAL_MS), seen, gone);
      }
      eventsApiChanges.labels('poll').inc(page.rows.length);
      eventsApiRequests.labels('poll', '200').inc();
      res.status(200).type('application/json').send(pageBody(page));
    } catch (error) {
      this.fail('poll', res, error);
    }
  }

  @Get('stream')
  async stream(@Req() req: Request, @Res() res: Response): Promise<void> {
    let after: bigint;
    let types: string[] | null;
    let filter: RouteFilter | null;
    try {
      const lastEventId = req.headers['last-event-id'];
      const admitted = await this.admit(req, typeof lastEventId === 'string' ? lastEventId : undefined);
      for (const name of ['wait', 'limit']) {
        if (req.query[name] !== undefined) {
          throw new EventsApiError(
            'INVALID_QUERY',
            `${name} is for GET /events; a stream sends every change as it comes`,
          );
        }
      }
      types = admitted.types;
      filter = admitted.filter;
      after = await this.feed.startPosition(admitted.query.start);
    } catch (error) {
      this.fail('stream', res, error);
      return;
    }
    eventsApiRequests.labels('stream', '200').inc();
    eventsApiStreams.inc();
    const gone = requestSignal(res, this.listener.shutdown);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const { EVENTS_API_HEARTBEAT_MS: heartbeatMs } = this.config.events;
    let lastWrite = Date.now();
    try {
      while (!gone.aborted) {
        const seen = this.listener.notifications.seen;
        const page = await this.feed.page(after, STREAM_PAGE, types, filter);
        for (const row of page.rows) {
          const event = `id: ${encodeCursor(row.position)}\nevent: change\ndata: ${changeValue(row.change, row.id)}\n\n`;
          if (!res.write(event)) await once(res, 'drain', { signal: gone });
        }
        if (page.rows.length > 0) {
          eventsApiChanges.labels('stream').inc(page.rows.length);
          lastWrite = Date.now();
        }
        after = page.next;
        if (page.hasMore) continue;
        const pollMs = this.config.fanout.FANOUT_POLL_INTERVAL_MS;
        await this.listener.notifications.wait(Math.min(pollMs, heartbeatMs), seen, gone);
        if (!gone.aborted && Date.now() - lastWrite >= heartbeatMs) {
          res.write(': keep-alive\n\n');
          lastWrite = Date.now();
        }
      }
    } catch (error) {
      if (!gone.aborted) this.streamFailed(res, error);
    } finally {
      eventsApiStreams.dec();
      res.end();
    }
  }

  private async admit(
    req: Request,
    lastEventId?: string,
  ): Promise<{ query: FeedQuery; types: string[] | null; filter: RouteFilter | null }> {
    const consumer = await this.auth.authenticate(req.headers.authorization);
    const query = parseFeedQuery(
      req.query,
      {
        maxLimit: this.config.events.EVENTS_API_MAX_LIMIT,
        maxWaitSeconds: this.config.events.EVENTS_API_MAX_WAIT_SECONDS,
      },
      lastEventId,
    );
    const types = typesToRead(query.types, consumer.types);
    const route = routeToRead(query.route, consumer.routes);
    if (route === null) return { query, types, filter: null };
    let found;
    try {
      found = this.routes.get(route);
    } catch {
      throw new EventsApiError('UNAVAILABLE', "the feed's database does not answer; retry shortly");
    }
    if (!found) {
      throw new EventsApiError(
        'UNKNOWN_ROUTE',
        `no route named ${route}: see \`asana-stream routes list\` (a route applied moments ago is served within seconds)`,
      );
    }
    return { query, types, filter: found.filter };
  }

  /** A stream that cannot go on: one `error` event saying why (a consumer's cue to reconnect or start over). */
  private streamFailed(res: Response, error: unknown): void {
    const failure = error instanceof EventsApiError ? error : this.unavailable(error);
    res.write(`event: error\ndata: ${JSON.stringify(failure.toBody())}\n\n`);
  }

  private fail(endpoint: Endpoint, res: Response, error: unknown): void {
    const failure = error instanceof EventsApiError ? error : this.unavailable(error);
    eventsApiRequests.labels(endpoint, String(failure.status)).inc();
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(failure.status).json(failure.toBody());
  }

  /** Anything else: the database failing (503, retry), or a bug of ours (logged with its stack, still 503). */
  private unavailable(error: unknown): EventsApiError {
    const classified = classifyError(error);
    if (error instanceof TypeError || error instanceof ReferenceError) {
      this.log.error({ msg: 'events api failed', error: classified.toJSON(), stack: error.stack });
    } else {
      this.log.warn({ msg: 'events api read failed', error: classified.toJSON() });
    }
    return new EventsApiError('UNAVAILABLE', "the feed's database does not answer; retry shortly");
  }
}
