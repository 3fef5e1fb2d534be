import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { generateConsumerToken, hashConsumerToken } from '@asana-stream/db';
// The API's own cursor encoding (bench/ is outside test/architecture's import rules).
import { encodeCursor } from '../apps/fanout/src/events-api/feed-cursor';
import { defineBenchmark, type BenchContext } from './lib/benchmark';
import { freePort, NodeProcess } from './lib/processes';
import { round, summariseLatencies, type LatencySummary } from './lib/stats';
import { clockOffsetMs, insertTransaction, taskChange } from './relay.bench';

/** Changes in the feed each run reads (`--quick`: 5,000). */
const FEED_ROWS = 20_000;
const QUICK_FEED_ROWS = 5_000;
/** Changes per page, for the API and the baseline alike. */
const PAGE = 1000;
/** Long-polls per run (`--quick`: 20), each answered by one change published while it waits. */
const LONG_POLLS = 60;
const QUICK_LONG_POLLS = 20;
/** How long a long-poll has waited when the change that answers it is inserted. */
const WAIT_BEFORE_CHANGE_MS = 50;
const EPOCH = Date.UTC(2026, 11, 1, 0, 0, 0);
const VERSIONS_PER_RUN = 100_000_000;

/** The baseline's read: the same index, the same rows, straight from Postgres. */
const PLAIN_SELECT = /* sql */ `
  SELECT feed_position::text AS position, id::text AS id, gid, type, change::text AS change
  FROM outbox WHERE feed_position > $1 ORDER BY feed_position LIMIT $2`;

interface Page {
  changes: { changeId: string }[];
  next: string;
  hasMore: boolean;
}

interface EventsApiSession {
  pool: Pool;
  fanout: NodeProcess;
  url: string;
  token: string;
  feedRows: number;
  longPolls: number;
}

async function head(pool: Pool): Promise<bigint> {
  const { rows } = await pool.query<{ head: string }>(/* sql */ `SELECT last_position::text AS head FROM events_feed`);
  return BigInt(rows[0].head);
}

async function waitUntilPublished(pool: Pool, session: EventsApiSession, deadlineMs: number): Promise<void> {
  for (;;) {
    if (!session.fanout.running) throw new Error(`the fanout exited; see ${session.fanout.logFile}`);
    const { rows } = await pool.query<{ n: string }>(
      /* sql */ `SELECT count(*) AS n FROM outbox WHERE published_at IS NULL`,
    );
    if (rows[0].n === '0') return;
    if (performance.now() > deadlineMs) throw new Error(`${rows[0].n} outbox rows still unpublished`);
    await sleep(10);
  }
}

async function getPage(session: EventsApiSession, query: string): Promise<Page> {
  const response = await fetch(`${session.url}/events?${query}`, {
    headers: { authorization: `Bearer ${session.token}` },
  });
  if (response.status !== 200)
    throw new Error(`GET /events?${query} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Page;
}

/**
 * Reading a backlog: every change after `start`, PAGE at a time, through the Events API (HTTP,
 * the token checked, each page parsed as a consumer would), then with the plain indexed SELECT
 * (each row's change text parsed too).
 */
async function throughputFigure(session: EventsApiSession, ctx: BenchContext, run: number) {
  const { pool } = session;
  await pool.query(/* sql */ `DELETE FROM outbox`);
  const start = await head(pool);
  const base = EPOCH + (2 * run + 1) * VERSIONS_PER_RUN;
  const changes = Array.from({ length: session.feedRows }, (_, n) => taskChange(n, base));
  for (let i = 0; i < changes.length; i += 5000) await insertTransaction(pool, changes.slice(i, i + 5000));
  await waitUntilPublished(pool, session, performance.now() + ctx.options.drainTimeoutS * 1000);

  let read = 0;
  let cursor = encodeCursor(start);
  const apiStart = performance.now();
  for (;;) {
    const page = await getPage(session, `after=${cursor}&limit=${PAGE}`);
    read += page.changes.length;
    cursor = page.next;
    if (!page.hasMore) break;
  }
  const apiSeconds = (performance.now() - apiStart) / 1000;
  if (read !== changes.length) throw new Error(`the Events API gave ${read} changes, expected ${changes.length}`);

  let selected = 0;
  let position = start;
  const selectStart = performance.now();
  for (;;) {
    const { rows } = await pool.query<{ position: string; change: string }>(PLAIN_SELECT, [position.toString(), PAGE]);
    for (const row of rows) JSON.parse(row.change);
    selected += rows.length;
    if (rows.length < PAGE) break;
    position = BigInt(rows[rows.length - 1].position);
  }
  const selectSeconds = (performance.now() - selectStart) / 1000;
  if (selected !== changes.length) throw new Error(`the SELECT gave ${selected} rows, expected ${changes.length}`);
  await pool.query(/* sql */ `DELETE FROM outbox`);

  const rate = read / apiSeconds;
  const baselineRate = selected / selectSeconds;
  ctx.log(`throughput: Events API ${round(rate)} changes/s, plain SELECT ${round(baselineRate)} rows/s`);
  const detail =
    `${changes.length} published task changes (the relay bench's rows, state included) read from the start in pages of ${PAGE}: ` +
    `GET /events?after=&limit=${PAGE} from fanout as a real process, token checked, each page's JSON parsed, ${round(apiSeconds, 2)} s; ` +
    `the same rows with the same index (outbox_feed_position_idx) by a plain \`SELECT … WHERE feed_position > $1 ORDER BY feed_position LIMIT ${PAGE}\` over one pg connection, each change's JSON parsed, ${round(selectSeconds, 2)} s`;
  return { rate, baselineRate, detail };
}

const latencyText = (l: LatencySummary) => `p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms`;

/**
 * How soon a change reaches a reader: a long-poll (`wait=10`) waiting when one change is
 * committed (as the projector commits, with its NOTIFY), from the relay's `published_at` to the
 * answer; against a reader looping the plain indexed SELECT with no pause, from `published_at`
 * to the SELECT that first returned the row (the best a polling reader can do).
 */
async function latencyFigure(session: EventsApiSession, ctx: BenchContext, run: number) {
  const { pool } = session;
  await pool.query(/* sql */ `DELETE FROM outbox`);
  const clock = await clockOffsetMs(pool);
  const base = EPOCH + (2 * run + 2) * VERSIONS_PER_RUN;
  const publishedAt = async (id: string): Promise<number> => {
    const { rows } = await pool.query<{ ms: number }>(
      /* sql */ `SELECT (extract(epoch FROM published_at) * 1000)::float8 AS ms FROM outbox WHERE id = $1`,
      [id],
    );
    return rows[0].ms - clock.offset;
  };

  const longPoll: number[] = [];
  for (let i = 0; i < session.longPolls; i++) {
    const after = encodeCursor(await head(pool));
    const answer = getPage(session, `after=${after}&wait=10`);
    await sleep(WAIT_BEFORE_CHANGE_MS);
    await insertTransaction(pool, [taskChange(2 * i, base)]);
    const page = await answer;
    const answeredAt = performance.timeOrigin + performance.now();
    if (page.changes.length !== 1) throw new Error(`a long-poll answered ${page.changes.length} changes, expected 1`);
    longPoll.push(answeredAt - (await publishedAt(page.changes[0].changeId)));
  }

  const polling: number[] = [];
  for (let i = 0; i < session.longPolls; i++) {
    const after = (await head(pool)).toString();
    let found: { id: string } | undefined;
    let foundAt = 0;
    const poller = (async () => {
      while (!found) {
        const { rows } = await pool.query<{ id: string }>(PLAIN_SELECT, [after, 1]);
        if (rows.length > 0) {
          foundAt = performance.timeOrigin + performance.now();
          found = rows[0];
        }
      }
    })();
    await sleep(WAIT_BEFORE_CHANGE_MS);
    await insertTransaction(pool, [taskChange(2 * i + 1, base)]);
    await poller;
    polling.push(foundAt - (await publishedAt(found!.id)));
  }
  await pool.query(/* sql */ `DELETE FROM outbox`);

  const api = summariseLatencies(longPoll);
  const select = summariseLatencies(polling);
  ctx.log(`latency: long-poll ${latencyText(api)}; polling SELECT ${latencyText(select)}`);
  const detail =
    `${session.longPolls} long-polls (GET /events?after=<head>&wait=10), each answered by one change committed ${WAIT_BEFORE_CHANGE_MS} ms after it began; ` +
    `latency = the answer's arrival − the change's published_at (the relay's clock_timestamp() after Kafka's ack; clocks: Postgres − bench ${round(clock.offset, 3)} ms over a ${round(clock.rtt, 3)} ms round trip, subtracted): ${latencyText(api)}; ` +
    `baseline: a reader looping the plain indexed SELECT with no pause (a pool of its own connections), from published_at to the first SELECT returning the row: ${latencyText(select)}`;
  return { value: api.p99, baselineValue: select.p99, detail };
}

export default defineBenchmark<EventsApiSession>({
  name: 'events-api',
  description:
    "fanout's Events API (GET /events) as a real process, reading the feed and long-polling, against a plain indexed SELECT of the same rows",
  figures: [
    {
      name: 'changes_per_s_vs_plain_select',
      unit: 'changes/s',
      baseline: `a plain indexed SELECT of the same rows (outbox_feed_position_idx), ${PAGE} a page, over one pg connection`,
      higherIsBetter: true,
      target: { ratio: 0.25 },
      targetRule:
        '≥ 25 % of the plain SELECT (our objective: the issue sets none; HTTP, the token and JSON cost what they cost)',
    },
    {
      name: 'long_poll_p99_ms',
      unit: 'ms',
      baseline: 'p99 of a reader looping the plain indexed SELECT with no pause (published_at to first seen)',
      higherIsBetter: false,
      target: { maxValue: () => 100 },
      targetRule: 'p99 ≤ 100 ms (a long-poll answers within 100 ms of a new change)',
    },
  ],

  async setup(ctx) {
    const installation = await ctx.installation();
    const pool = new Pool({ connectionString: installation.databaseUrl, max: 4 });
    ctx.onCleanup(() => pool.end());
    await pool.query(/* sql */ `DELETE FROM outbox`);
    const token = generateConsumerToken();
    await pool.query(/* sql */ `INSERT INTO events_api_consumers (name, token_sha256) VALUES ('bench', $1)`, [
      hashConsumerToken(token),
    ]);
    const port = await freePort();
    const fanout = new NodeProcess({
      name: 'fanout',
      entry: 'apps/fanout/src/main.js',
      env: { ...installation.env, PORT: String(port), HOST: '127.0.0.1', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      logDir: ctx.logDir,
      cpuProfile: ctx.options.cpuProfile,
    }).start();
    ctx.onCleanup(() => fanout.stop());
    await fanout.ready(`http://127.0.0.1:${port}/health/ready`);
    ctx.log(`fanout serving the Events API at 127.0.0.1:${port}`);
    return {
      pool,
      fanout,
      url: `http://127.0.0.1:${port}`,
      token,
      feedRows: ctx.options.quick ? QUICK_FEED_ROWS : FEED_ROWS,
      longPolls: ctx.options.quick ? QUICK_LONG_POLLS : LONG_POLLS,
    };
  },

  async run(session, ctx, run) {
    const throughput = await throughputFigure(session, ctx, run);
    const latency = await latencyFigure(session, ctx, run);
    return {
      changes_per_s_vs_plain_select: {
        value: throughput.rate,
        baselineValue: throughput.baselineRate,
        detail: throughput.detail,
      },
      long_poll_p99_ms: { value: latency.value, baselineValue: latency.baselineValue, detail: latency.detail },
    };
  },
});
