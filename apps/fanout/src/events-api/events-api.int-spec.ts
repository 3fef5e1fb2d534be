import type { AddressInfo } from 'node:net';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { EventSource } from 'eventsource';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import {
  changeTopic,
  routeTopic,
  resourceChangeMessageContract,
  type ChangeAction,
  type ResourceChangeMessage,
  type TopicNames,
} from '@asana-stream/contracts';
import { applyRoutes, createDataSource, createEventsApiConsumer, OUTBOX_CHANNEL } from '@asana-stream/db';
import { ensureTopics } from '@asana-stream/kafka';
import { createPipelineApp } from '@asana-stream/runtime';
import {
  createTestDatabase,
  createTestTopics,
  TEST_BROKERS,
  testKafka,
  TopicRecorder,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import { FANOUT_APP } from '../fanout.module';
import { NOTIFICATIONS_APPLICATION_NAME } from '../notifications/pg-notifications';
import { componentValidator } from '../../test/events-api-document';
import { OutboxRetentionService } from '../relay/outbox-retention.service';
import { RouteTable } from '../routes/route-table.service';
import { encodeCursor } from './feed-cursor';

let nextGid = 1_900_000;
const freshGid = (): string => String(nextGid++);

interface FeedAnswer {
  status: number;
  body: { changes: ResourceChangeMessage[]; next: string; hasMore: boolean; error?: string; message?: string };
}

/** What the projector writes to `outbox.change`. */
function change(gid: string, type: string, action: ChangeAction, version: number) {
  return {
    schema: 1,
    gid,
    type,
    action,
    version,
    changes: { name: { from: `v${version - 1}`, to: `v${version}` } },
    state: { gid, resource_type: type, name: `v${version}` },
    causes: [`event-${gid}-${version}`],
    occurredAt: new Date().toISOString(),
  };
}

describe('the Events API (GET /events, /events/stream) on a real database and broker', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let sql: Client;
  let dataSource: DataSource;
  /** Two fanout replicas: two relays publishing at once, two API servers. */
  const apps: NestExpressApplication[] = [];
  const urls: string[] = [];
  let token: string;
  let projectsOnlyToken: string;
  const validPage = componentValidator('Page');
  const validError = componentValidator('Error');

  /** Inserts rows as the projector does: one transaction, then NOTIFY. Returns their ids. */
  async function project(rows: { gid: string; type?: string; version: number }[], client: Client = sql) {
    await client.query('BEGIN');
    const ids: string[] = [];
    for (const row of rows) {
      const type = row.type ?? 'task';
      const result = await client.query<{ id: string }>(
        /* sql */ `INSERT INTO outbox (gid, type, change) VALUES ($1, $2, $3) RETURNING id`,
        [row.gid, type, change(row.gid, type, row.version === 1 ? 'created' : 'updated', row.version)],
      );
      ids.push(result.rows[0].id);
    }
    await client.query(/* sql */ `SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
    await client.query('COMMIT');
    return ids;
  }

  async function get(path: string, bearer: string | null = token, base = urls[0]): Promise<FeedAnswer> {
    const response = await fetch(`${base}${path}`, {
      headers: bearer === null ? {} : { authorization: `Bearer ${bearer}` },
    });
    const body = (await response.json()) as FeedAnswer['body'];
    // Every answer is what the OpenAPI document says, and every change meets the published contract.
    const documented = response.status === 200 ? validPage : validError;
    expect(documented(body) ? [] : documented.errors).toEqual([]);
    for (const change of body.changes ?? []) expect(resourceChangeMessageContract.problems(change)).toEqual([]);
    return { status: response.status, body };
  }

  /** Reads the whole feed from `after` (or the start) page by page. */
  async function readAll(after?: string, limit = 50): Promise<{ changes: ResourceChangeMessage[]; next: string }> {
    const changes: ResourceChangeMessage[] = [];
    let cursor = after;
    for (;;) {
      const page = await get(`/events?limit=${limit}${cursor ? `&after=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      changes.push(...page.body.changes);
      cursor = page.body.next;
      if (!page.body.hasMore) return { changes, next: cursor };
    }
  }

  async function head(): Promise<string> {
    const { rows } = await sql.query<{ head: string }>(/* sql */ `SELECT last_position::text AS head FROM events_feed`);
    return encodeCursor(BigInt(rows[0].head));
  }

  async function waitUntilPublished(): Promise<void> {
    await waitFor('every outbox row to be published', async () => {
      const { rows } = await sql.query<{ n: string }>(
        /* sql */ `SELECT count(*)::text AS n FROM outbox WHERE published_at IS NULL`,
      );
      return rows[0].n === '0' || undefined;
    });
  }

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    dataSource = createDataSource(db.url, 2);
    await dataSource.initialize();
    token = (await createEventsApiConsumer(dataSource, 'team-all', null)).token;
    projectsOnlyToken = (await createEventsApiConsumer(dataSource, 'team-projects', ['project'])).token;
    for (let i = 0; i < 2; i++) {
      const { app } = await createPipelineApp(
        FANOUT_APP,
        {
          DATABASE_URL: db.url,
          KAFKA_BROKERS: TEST_BROKERS,
          KAFKA_TOPIC_PREFIX: names.prefix,
          // Ten seconds of fallback polling: a prompt answer can only come from the notifications.
          FANOUT_POLL_INTERVAL_MS: '10000',
          FANOUT_BATCH_SIZE: '7',
          EVENTS_API_HEARTBEAT_MS: '500',
        },
        { logger: false },
      );
      await app.listen(0, '127.0.0.1');
      apps.push(app);
      urls.push(`http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`);
    }
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await dataSource?.destroy();
    await sql?.end();
    await db?.drop();
  });

  it('serves exactly the topic: every change once, each gid in the topic order, while writers commit out of id order and two relays publish', async () => {
    const start = await head();
    const recorder = await new TopicRecorder<ResourceChangeMessage>([names.physical(changeTopic('task').name)]).start();
    const gids = Array.from({ length: 12 }, freshGid);
    // A follower reading continuously from the start, with long-polls, through the other replica.
    const followed: ResourceChangeMessage[] = [];
    let following = true;
    const follower = (async () => {
      let cursor = start;
      while (following) {
        const page = await get(`/events?after=${cursor}&limit=5&wait=1`, token, urls[1]);
        expect(page.status).toBe(200);
        followed.push(...page.body.changes);
        cursor = page.body.next;
      }
    })();

    // A transaction that takes its outbox ids first and commits last, beside writers committing meanwhile.
    const slow = new Client({ connectionString: db.url });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      for (const gid of gids.slice(0, 3)) {
        await slow.query(/* sql */ `INSERT INTO outbox (gid, type, change) VALUES ($1, 'task', $2)`, [
          gid,
          change(gid, 'task', 'created', 1),
        ]);
      }
      const writers = Array.from({ length: 4 }, async (_, w) => {
        const client = new Client({ connectionString: db.url });
        await client.connect();
        try {
          for (let version = 1; version <= 6; version++) {
            await project(
              gids
                .slice(3)
                .filter((_, i) => i % 4 === w)
                .map((gid) => ({ gid, version })),
              client,
            );
          }
        } finally {
          await client.end();
        }
      });
      await Promise.all(writers);
      await slow.query(/* sql */ `SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
      await slow.query('COMMIT');
    } finally {
      await slow.end();
    }
    const expected = 3 + 9 * 6;
    await waitUntilPublished();
    await waitFor('the follower to have every change', () => followed.length >= expected || undefined);
    following = false;
    await follower;
    await waitFor(
      'the topic to have every change',
      () => new Set(recorder.messages.map((m) => m.value.changeId)).size >= expected || undefined,
    );
    await recorder.stop();

    const fromScratch = (await readAll(start)).changes;
    const ids = (changes: ResourceChangeMessage[]) => changes.map((c) => c.changeId);
    // None skipped, none doubled: the live follower saw what a later reader sees, in the same order.
    expect(ids(followed)).toEqual(ids(fromScratch));
    expect(new Set(ids(fromScratch)).size).toBe(expected);
    // Exactly the topic's changes (the topic may hold a relay's re-publish twice; the feed never does).
    const topicChanges = new Map(recorder.messages.map((m) => [m.value.changeId, m.value]));
    expect([...topicChanges.keys()].sort()).toEqual(ids(fromScratch).sort());
    for (const c of fromScratch) expect(c).toEqual(topicChanges.get(c.changeId));
    // Per gid, the feed's order is the topic's order (offset order in the gid's partition).
    for (const gid of gids) {
      const inFeed = fromScratch.filter((c) => c.gid === gid).map((c) => c.changeId);
      const inTopic = [...new Set(recorder.messages.filter((m) => m.key === gid).map((m) => m.value.changeId))];
      expect(inFeed).toEqual(inTopic);
      expect(fromScratch.filter((c) => c.gid === gid).map((c) => c.version)).toEqual(
        [...inFeed.keys()].map((i) => i + 1),
      );
    }
  });

  it('answers a waiting long-poll promptly once a change is published (notifications, not the 10 s poll)', async () => {
    const delays: number[] = [];
    for (let trial = 0; trial < 5; trial++) {
      const cursor = await head();
      const poll = get(`/events?after=${cursor}&wait=20`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const gid = freshGid();
      await project([{ gid, version: 1 }]);
      const answer = await poll;
      const answeredAt = Date.now();
      expect(answer.status).toBe(200);
      expect(answer.body.changes.map((c) => c.gid)).toEqual([gid]);
      const { rows } = await sql.query<{ at: Date }>(/* sql */ `SELECT published_at AS at FROM outbox WHERE id = $1`, [
        answer.body.changes[0].changeId,
      ]);
      delays.push(answeredAt - rows[0].at.getTime());
    }
    delays.sort((a, b) => a - b);
    expect(delays[2]).toBeLessThanOrEqual(100);
    expect(delays[4]).toBeLessThan(2000);
  });

  it('answers an empty long-poll after its wait with a cursor that goes on where it was', async () => {
    const cursor = await head();
    const startedAt = Date.now();
    const answer = await get(`/events?after=${cursor}&wait=1`);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(900);
    expect(answer).toEqual({ status: 200, body: { changes: [], next: cursor, hasMore: false } });
  });

  it('resumes a stream after a dropped connection from Last-Event-ID, without loss or repeats', async () => {
    const cursor = await head();
    const gids = Array.from({ length: 3 }, freshGid);
    const received: ResourceChangeMessage[] = [];
    const opened: string[] = [];
    let drop: (() => void) | undefined;
    // The standard EventSource client, its connection cut as a network failure would cut it
    // (an error from the body, not an abort), so it reconnects by itself with Last-Event-ID.
    const source = new EventSource(`${urls[0]}/events/stream?after=${cursor}`, {
      fetch: async (input, init) => {
        const headers: Record<string, string> = {
          ...(init?.headers as Record<string, string>),
          authorization: `Bearer ${token}`,
        };
        opened.push(headers['Last-Event-ID'] ?? '');
        const response = await fetch(input, { ...init, headers });
        const reader = response.body!.getReader();
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            drop = () => {
              controller.error(new TypeError('terminated'));
              void reader.cancel();
            };
          },
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
        });
        return new Response(body, { status: response.status, headers: response.headers });
      },
    });
    source.addEventListener('change', (event) => received.push(JSON.parse(event.data) as ResourceChangeMessage));
    try {
      await project(gids.map((gid) => ({ gid, version: 1 })));
      await waitFor('the stream to deliver the first changes', () => received.length >= 3 || undefined);
      // The connection drops (a proxy, a network blip); changes keep coming meanwhile.
      drop!();
      await project(gids.map((gid) => ({ gid, version: 2 })));
      await project(gids.map((gid) => ({ gid, version: 3 })));
      await waitFor('the stream to reconnect and deliver the rest', () => received.length >= 9 || undefined, {
        timeoutMs: 20_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      source.close();
    }
    expect(opened.length).toBeGreaterThanOrEqual(2);
    expect(opened.at(-1)).not.toBe('');
    const expected = (await readAll(cursor)).changes;
    expect(received.map((c) => c.changeId)).toEqual(expected.map((c) => c.changeId));
    expect(new Set(received.map((c) => c.changeId)).size).toBe(9);
  });

  it('lets a token read only its types, and refuses a missing or unknown token', async () => {
    const cursor = await head();
    const [task, project_] = [freshGid(), freshGid()];
    await project([
      { gid: task, version: 1 },
      { gid: project_, type: 'project', version: 1 },
    ]);
    await waitUntilPublished();

    const own = await get(`/events?after=${cursor}`, projectsOnlyToken);
    expect(own.status).toBe(200);
    expect(own.body.changes.map((c) => [c.gid, c.type])).toEqual([[project_, 'project']]);
    const asked = await get(`/events?after=${cursor}&types=task`, projectsOnlyToken);
    expect(asked.status).toBe(403);
    expect(asked.body.error).toBe('FORBIDDEN_TYPES');
    const all = await get(`/events?after=${cursor}&types=task`);
    expect(all.body.changes.map((c) => c.gid)).toEqual([task]);

    for (const bearer of [null, 'asev_not-a-token']) {
      const refused = await get(`/events?after=${cursor}`, bearer);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('UNAUTHENTICATED');
      expect(refused.body.message).toContain('asana-stream consumers create');
    }
    const stream = await fetch(`${urls[0]}/events/stream`, { headers: { authorization: 'Bearer nope' } });
    expect(stream.status).toBe(401);
  });

  it.each([
    ['a malformed cursor', '/events?after=42', 400, 'INVALID_CURSOR'],
    ['an unknown parameter', '/events?from=1', 400, 'INVALID_QUERY'],
    ['a limit over the maximum', '/events?limit=5000', 400, 'INVALID_QUERY'],
    ['a wait over the maximum', '/events?wait=31', 400, 'INVALID_QUERY'],
    ['after and since together', `/events?after=${encodeCursor(0n)}&since=2026-01-01T00:00:00Z`, 400, 'INVALID_QUERY'],
    ['a since that is not a time', '/events?since=yesterday', 400, 'INVALID_QUERY'],
    ['a cursor ahead of the feed', `/events?after=${encodeCursor(10n ** 12n)}`, 410, 'CURSOR_EXPIRED'],
  ])('answers %s (%s) with %i %s', async (_name, path, status, error) => {
    const answer = await get(path);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toBe(error);
    expect(answer.body.message).toEqual(expect.any(String));
  });

  it('answers 410 for a cursor or time retention has passed, and serves what it kept', async () => {
    const before = await head();
    const gids = [freshGid(), freshGid()];
    await project([{ gid: gids[0], version: 1 }]);
    await waitUntilPublished();
    const middle = await head();
    const sinceMiddle = new Date().toISOString();
    await project([{ gid: gids[1], version: 1 }]);
    await waitUntilPublished();
    // The first row ages past the retention; the retention job runs.
    await sql.query(/* sql */ `UPDATE outbox SET published_at = now() - interval '1000 hours' WHERE gid = $1`, [
      gids[0],
    ]);
    const retention = apps[0].get(OutboxRetentionService);
    expect(await retention.deleteExpired()).toBeGreaterThanOrEqual(1);

    const expired = await get(`/events?after=${before}`);
    expect(expired.status).toBe(410);
    expect(expired.body.error).toBe('CURSOR_EXPIRED');
    expect(expired.body.message).toContain('FANOUT_RETENTION_HOURS');
    const later = await get(`/events?since=${sinceMiddle}`); // after the deleted row was published
    expect(later.status).toBe(200);
    expect(later.body.changes.map((c) => c.gid)).toEqual([gids[1]]);
    expect((await get(`/events?since=2020-01-01T00:00:00Z`)).status).toBe(410);
    const kept = await get(`/events?after=${middle}`);
    expect(kept.body.changes.map((c) => c.gid)).toEqual([gids[1]]);
    const fromOldest = await readAll();
    expect(fromOldest.changes.map((c) => c.gid)).not.toContain(gids[0]);
    expect(fromOldest.changes.map((c) => c.gid)).toContain(gids[1]);
  });

  it('leaves a discarded row out: it never reached the topic', async () => {
    const cursor = await head();
    const gid = freshGid();
    // A row marked published without a position is what `outbox discard` leaves.
    await sql.query(
      /* sql */ `INSERT INTO outbox (gid, type, change, published_at, parked_at) VALUES ($1, 'task', $2, now(), now())`,
      [gid, change(gid, 'task', 'created', 1)],
    );
    const other = freshGid();
    await project([{ gid: other, version: 1 }]);
    await waitUntilPublished();
    expect((await get(`/events?after=${cursor}`)).body.changes.map((c) => c.gid)).toEqual([other]);
  });

  it('serves a route: exactly its changes in feed order, past what it scanned; a token limited to routes reads only those', async () => {
    const routes = [
      { name: 'third-versions', filter: { types: ['task'], where: { name: 'v3' } } },
      { name: 'projects', filter: { types: ['project'] } },
    ];
    await ensureTopics(
      testKafka(),
      routes.map((r) => routeTopic(r.name)),
      names,
    );
    await applyRoutes(dataSource, routes);
    await waitFor('both replicas to hold the routes', () =>
      apps.every((app) => app.get(RouteTable).get('projects') !== undefined),
    );
    const cursor = await head();
    const gids = Array.from({ length: 5 }, freshGid);
    const projects = [freshGid(), freshGid()];
    for (let version = 1; version <= 4; version++) {
      await project([
        ...gids.map((gid) => ({ gid, version })),
        ...(version === 2 ? projects.map((gid) => ({ gid, type: 'project', version: 1 })) : []),
      ]);
    }
    await waitUntilPublished();
    const everything = (await readAll(cursor)).changes;
    const expected = everything.filter((c) => c.type === 'task' && c.version === 3).map((c) => c.changeId);
    expect(expected).toHaveLength(5);

    const read: string[] = [];
    let after = cursor;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const page = await get(`/events?after=${after}&route=third-versions&limit=2`);
      expect(page.status).toBe(200);
      read.push(...page.body.changes.map((c) => c.changeId));
      after = page.body.next;
      if (!page.body.hasMore) break;
    }
    expect(read).toEqual(expected);
    // The last page went on to the head: the next read does not scan those rows again.
    expect(after).toBe(await head());

    const limited = (await createEventsApiConsumer(dataSource, 'team-routed', null, ['projects'])).token;
    const own = await get(`/events?after=${cursor}&route=projects`, limited);
    expect(own.status).toBe(200);
    expect(own.body.changes.map((c) => c.gid)).toEqual(projects);
    const other = await get(`/events?after=${cursor}&route=third-versions`, limited);
    expect(other.status).toBe(403);
    expect(other.body.error).toBe('FORBIDDEN_ROUTE');
    const none = await get(`/events?after=${cursor}`, limited);
    expect(none.status).toBe(403);
    expect(none.body.error).toBe('FORBIDDEN_ROUTE');
    const stream = await fetch(`${urls[0]}/events/stream?route=third-versions`, {
      headers: { authorization: `Bearer ${limited}` },
    });
    expect(stream.status).toBe(403);
    const unknown = await get(`/events?route=no-such-route`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('UNKNOWN_ROUTE');
  });

  it('ends open streams and long-polls when the app shuts down, and closes its one notification connection', async () => {
    const notificationConnections = async (): Promise<number> =>
      (
        await sql.query<{ n: number }>(
          /* sql */ `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
          [NOTIFICATIONS_APPLICATION_NAME],
        )
      ).rows[0].n;
    const before = await notificationConnections();
    const { app } = await createPipelineApp(
      FANOUT_APP,
      { DATABASE_URL: db.url, KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix },
      { logger: false },
    );
    await app.listen(0, '127.0.0.1');
    // The relay, the Events API and the route table all wait on one connection.
    expect(await notificationConnections()).toBe(before + 1);
    const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    const stream = await fetch(`${base}/events/stream?after=${await head()}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const poll = get(`/events?after=${await head()}&wait=30`, token, base);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const closingAt = Date.now();
    await app.close();
    expect(Date.now() - closingAt).toBeLessThan(5000);
    expect((await poll).status).toBe(200);
    const rest = await stream.text();
    expect(rest).toContain('retry:');
    await waitFor('the notification connection closed', async () => (await notificationConnections()) === before, {
      timeoutMs: 5000,
    });
  });
});
