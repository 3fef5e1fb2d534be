import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Message, Producer, TopicMessages } from 'kafkajs';
import { Pool } from 'pg';
import { asanaEventId } from '@asana-stream/asana';
import { FanoutEnv } from '@asana-stream/config';
import { changeTopic, type ResourceChangeMessage, type TopicNames } from '@asana-stream/contracts';
import { FEED_CHANNEL, OUTBOX_CHANNEL } from '@asana-stream/db';
// The relay's own pure message builder (bench/ is outside test/architecture's import rules), so
// the baselines send byte for byte the keys and values the relay makes of the same rows.
import { changeMessage, type ClaimedRow } from '../apps/fanout/src/relay/relay-batch';
import { PgNotifications, type NotificationChannel } from '../apps/fanout/src/notifications/pg-notifications';
import { writeOutbox } from '../apps/projector/src/project/outbox-copy';
import { benchEvent, benchGid } from './lib/asana-deliveries';
import { defineBenchmark, type BenchContext } from './lib/benchmark';
import { settleHeap } from './lib/heap';
import { connectedAdminAndProducer, endOffsetTotal } from './lib/kafka';
import { freePort, NodeProcess } from './lib/processes';
import { round, summariseLatencies, type LatencySummary } from './lib/stats';

/** Outbox rows of the backlog (`--quick`: 5,000), over `GIDS` tasks. */
const BACKLOG_ROWS = 20_000;
const QUICK_BACKLOG_ROWS = 5_000;
const GIDS = 2_000;
/** Rows of the warm-up drain before the first run (not measured). */
const WARMUP_ROWS = 5_000;
/** How often the drain's wait checks that the fanout still runs and the drain timeout. */
const WATCH_MS = 100;
/** The fixed-rate figure: 1,000 rows/s as a transaction of 10 rows every 10 ms. */
const ROWS_PER_TRANSACTION = 10;
const TRANSACTION_INTERVAL_MS = 10;
const FIXED_RATE = (ROWS_PER_TRANSACTION * 1000) / TRANSACTION_INTERVAL_MS;
/** Connections inserting at the fixed rate: a slow commit does not hold back the next transaction. */
const INSERT_CONNECTIONS = 8;
/** Rows the relay claims per transaction, as the app runs it (the bench does not set FANOUT_BATCH_SIZE). */
const RELAY_BATCH_SIZE = new FanoutEnv().FANOUT_BATCH_SIZE;
const EPOCH = Date.UTC(2026, 10, 22, 10, 0, 0);
/** Versions of a run's rows: each run's, and each figure's, above the last's. */
const VERSIONS_PER_RUN = 100_000_000;

export interface OutboxInsert {
  gid: string;
  type: string;
  change: Omit<ResourceChangeMessage, 'changeId'>;
  traceparent: string;
}

/** A W3C trace context like the one the projector stores with each row (its consumer span's). */
function traceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/**
 * The n-th change of a series starting at `base`: task `n % GIDS` renamed, as the projector
 * writes it to `outbox.change`: the whole state the enricher fetched (apps/enricher's task
 * opt_fields), the changed fields, and the event it answers.
 */
export function taskChange(n: number, base: number): OutboxInsert {
  const gid = benchGid(n % GIDS);
  const version = base + n;
  const modifiedAt = new Date(version).toISOString();
  const previous = new Date(version - 60_000).toISOString();
  const state = {
    gid,
    resource_type: 'task',
    resource_subtype: 'default_task',
    name: `Task ${n % GIDS} (rev ${n})`,
    notes: `Follow up with the vendor about the renewal of contract ${n % GIDS}; see the thread in #procurement.`,
    completed: n % 7 === 0,
    completed_at: n % 7 === 0 ? modifiedAt : null,
    assignee: { gid: String(42 + (n % 50)), resource_type: 'user', name: `User ${n % 50}` },
    due_on: '2026-12-15',
    created_at: '2026-01-05T09:30:00.000Z',
    modified_at: modifiedAt,
    parent: null,
    projects: [{ gid: String(1_300 + (n % 20)), resource_type: 'project', name: `Project ${n % 20}` }],
    workspace: { gid: '1100', resource_type: 'workspace', name: 'Acme' },
    permalink_url: `https://app.asana.com/0/${1_300 + (n % 20)}/${gid}`,
  };
  return {
    gid,
    type: 'task',
    change: {
      schema: 1,
      gid,
      type: 'task',
      action: 'updated',
      version,
      changes: {
        name: { from: `Task ${n % GIDS} (rev ${n - 1})`, to: state.name },
        modified_at: { from: previous, to: modifiedAt },
      },
      state,
      causes: [asanaEventId(benchEvent(n))],
      occurredAt: modifiedAt,
    },
    traceparent: traceparent(),
  };
}

interface RelaySession {
  pool: Pool;
  admin: Admin;
  producer: Producer;
  names: TopicNames;
  topic: string;
  fanout: NodeProcess;
  /** LISTENs on the feed channel: the relay's NOTIFY after each batch it marked published. */
  feed: NotificationChannel;
  backlogRows: number;
}

/** Inserts the changes in one transaction as the projector does; resolves right after COMMIT returned. */
export async function insertTransaction(pool: Pool, changes: OutboxInsert[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await writeOutbox(client, changes, OUTBOX_CHANNEL);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function unpublished(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    /* sql */ `SELECT count(*) AS n FROM outbox WHERE published_at IS NULL`,
  );
  return Number(rows[0].n);
}

/** The Events API feed's last position: the relay adds each batch's rows to it as it marks them. */
async function feedPosition(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ position: string }>(
    /* sql */ `SELECT last_position AS position FROM events_feed`,
  );
  return Number(rows[0].position);
}

/**
 * Waits until the relay has marked `total` rows published since the feed stood at `position`,
 * reading the feed's one-row counter each time the relay NOTIFYs the feed channel after a batch
 * it marked (the fanout's own `PgNotifications`, on a connection of the bench's), and every
 * `WATCH_MS` besides. So the wait puts next to no load on Postgres while the relay drains: a count
 * of the unpublished rows every 10 ms cost Postgres about as much CPU as the relay's marking.
 * Returns when the counter read `position + total`, as `performance.now()`, after checking that
 * no row is left unpublished. Throws when the fanout exits or the rows are not all published in time.
 */
async function drained(
  session: RelaySession,
  ctx: BenchContext,
  from: number,
  position: number,
  total: number,
): Promise<number> {
  const deadline = from + ctx.options.drainTimeoutS * 1000;
  for (;;) {
    if (!session.fanout.running) throw new Error(`the fanout exited; see ${session.fanout.logFile}`);
    // Read before the counter, so a notification that arrives meanwhile ends the wait at once.
    const seen = session.feed.seen;
    const reached = (await feedPosition(session.pool)) >= position + total;
    const at = performance.now();
    if (reached) break;
    if (at > deadline) {
      const left = await unpublished(session.pool);
      throw new Error(
        `${left} of ${total} outbox rows still unpublished ${ctx.options.drainTimeoutS} s after the insert (drain timeout); see ${session.fanout.logFile}`,
      );
    }
    await session.feed.wait(WATCH_MS, seen);
  }
  const done = performance.now();
  const left = await unpublished(session.pool);
  if (left > 0) throw new Error(`the feed grew by ${total} rows but ${left} outbox rows are unpublished`);
  return done;
}

/** The outbox rows as the relay claims them, in id order. */
async function claimedRows(pool: Pool): Promise<ClaimedRow[]> {
  const { rows } = await pool.query<ClaimedRow>(
    /* sql */ `SELECT id::text AS id, gid, type, change::text AS change, traceparent, attempts FROM outbox ORDER BY id`,
  );
  return rows;
}

/**
 * The message the relay sends for a row: its key and value (the relay's `changeMessage`) and a
 * `traceparent` header of the same length as the one KafkaPublisher stamps on each message (the
 * publishing context's: with no OTLP exporter, the batch's first row's).
 */
function relayMessage(row: ClaimedRow): Message {
  return { ...changeMessage(row), headers: { traceparent: row.traceparent ?? traceparent() } };
}

/** The rows cut into publishes of `size` rows in id order (default: the relay's batch size), each as `topicMessages`. */
function relayBatches(names: TopicNames, rows: readonly ClaimedRow[], size = RELAY_BATCH_SIZE): TopicMessages[][] {
  const batches: TopicMessages[][] = [];
  for (let i = 0; i < rows.length; i += size) batches.push(topicMessages(names, rows.slice(i, i + size)));
  return batches;
}

/** One publish of rows as the relay makes it: per change topic, its rows in id order. */
function topicMessages(names: TopicNames, rows: readonly ClaimedRow[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const row of rows) {
    const topic = names.physical(changeTopic(row.type).name);
    const messages = byTopic.get(topic) ?? [];
    messages.push(relayMessage(row));
    byTopic.set(topic, messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

interface AnalyzeState {
  count: number;
  last: Date | null;
}

async function autoanalyze(pool: Pool): Promise<AnalyzeState> {
  const { rows } = await pool.query<{ count: string; last: Date | null }>(
    /* sql */ `SELECT autoanalyze_count AS count, last_autoanalyze AS last FROM pg_stat_user_tables WHERE relname = 'outbox'`,
  );
  return { count: Number(rows[0]?.count ?? 0), last: rows[0]?.last ?? null };
}

/** Whether autovacuum had analyzed `outbox`, in words, from its state before and after the drain. */
function analyzeNote(before: AnalyzeState, after: AnalyzeState): string {
  const during = after.count > before.count;
  const ever = before.last ? `last before the insert at ${before.last.toISOString()}` : 'never before the insert';
  return `autovacuum's ANALYZE of outbox: ${ever}, ${during ? `again during the drain (at ${after.last?.toISOString()})` : 'not during the drain'} (the bench runs none)`;
}

/** Sums the change topics' end offsets (for the rows' messages all landing). */
function endOffsets(session: RelaySession): Promise<number> {
  return endOffsetTotal(session.admin, session.topic);
}

async function expectLanded(session: RelaySession, before: number, count: number, what: string): Promise<number> {
  const landed = (await endOffsets(session)) - before;
  if (landed < count) throw new Error(`${what}: ${landed} messages landed on ${session.topic}, expected ${count}`);
  return landed;
}

/**
 * The relay draining a backlog inserted in one transaction: rows per second from the insert's
 * COMMIT until no row is unpublished; then the same messages sent with sendBatch in batches of
 * the relay's batch size, one after the other.
 */
async function backlogFigure(session: RelaySession, ctx: BenchContext, run: number) {
  const { pool } = session;
  await pool.query(/* sql */ `DELETE FROM outbox`);
  const base = EPOCH + (2 * run + 1) * VERSIONS_PER_RUN;
  const changes = Array.from({ length: session.backlogRows }, (_, n) => taskChange(n, base));
  const analyzedBefore = await autoanalyze(pool);
  const offsetsBefore = await endOffsets(session);
  const positionBefore = await feedPosition(pool);
  settleHeap();
  const insertStart = performance.now();
  await insertTransaction(pool, changes);
  const committed = performance.now();
  const committedEpoch = performance.timeOrigin + committed;
  const done = await drained(session, ctx, committed, positionBefore, changes.length);
  const seconds = (done - committed) / 1000;
  const analyzedAfter = await autoanalyze(pool);
  const relayLanded = await expectLanded(session, offsetsBefore, changes.length, 'the relay');
  const { rows: lastRows } = await pool.query<{ ms: number }>(
    /* sql */ `SELECT (extract(epoch FROM max(published_at)) * 1000)::float8 AS ms FROM outbox`,
  );
  const lastPublishedS = (lastRows[0].ms - committedEpoch) / 1000;

  const rows = await claimedRows(pool);
  if (rows.length !== changes.length)
    throw new Error(`the outbox holds ${rows.length} rows, expected ${changes.length}`);
  const batches = relayBatches(session.names, rows);
  const valueBytes = Math.round(
    batches
      .flat()
      .reduce((sum, t) => sum + t.messages.reduce((s, m) => s + Buffer.byteLength(m.value as string), 0), 0) /
      rows.length,
  );
  const baselineBefore = await endOffsets(session);
  settleHeap();
  const sendStart = performance.now();
  for (const batch of batches) await session.producer.sendBatch({ topicMessages: batch, acks: -1 });
  const sendSeconds = (performance.now() - sendStart) / 1000;
  await expectLanded(session, baselineBefore, rows.length, 'the sendBatch baseline');
  await pool.query(/* sql */ `DELETE FROM outbox`);

  const rate = changes.length / seconds;
  const baselineRate = rows.length / sendSeconds;
  ctx.log(`backlog: relay ${round(rate)} rows/s (${round(seconds, 2)} s), sendBatch ${round(baselineRate)} messages/s`);
  const duplicates = relayLanded - changes.length;
  const detail =
    `${changes.length} outbox rows of ${GIDS} gids (task changes with their state, values ${valueBytes} bytes on average, each row with a traceparent as the projector stores it, so every message carries a traceparent header, the baseline's too), ` +
    `inserted in one transaction (${round((committed - insertStart) / 1000, 2)} s) with one NOTIFY, the fanout idle before; ` +
    `relay batch size ${RELAY_BATCH_SIZE}; every row published ${round(seconds, 2)} s after COMMIT (heard from the relay's feed NOTIFY; ` +
    `last published_at at ${round(lastPublishedS, 3)} s)${duplicates > 0 ? `, ${duplicates} messages sent twice` : ''}; ` +
    `sendBatch of the same ${rows.length} messages in ${batches.length} batches of ≤ ${RELAY_BATCH_SIZE}: ${round(sendSeconds, 2)} s; ` +
    analyzeNote(analyzedBefore, analyzedAfter);
  return { rate, baselineRate, detail };
}

/**
 * Before the first run, not measured: the relay drains a small backlog and the bare producer sends
 * the same messages, so that neither side's first run measures a cold start (the relay's pool
 * connections and first plans, JIT, the producer's first requests) as part of a one-second drain.
 */
async function warmUp(session: RelaySession, ctx: BenchContext): Promise<void> {
  const { pool } = session;
  await pool.query(/* sql */ `DELETE FROM outbox`);
  const changes = Array.from({ length: WARMUP_ROWS }, (_, n) => taskChange(n, EPOCH));
  const position = await feedPosition(pool);
  await insertTransaction(pool, changes);
  await drained(session, ctx, performance.now(), position, changes.length);
  for (const batch of relayBatches(session.names, await claimedRows(pool))) {
    await session.producer.sendBatch({ topicMessages: batch, acks: -1 });
  }
  await pool.query(/* sql */ `DELETE FROM outbox`);
}

/**
 * Postgres' clock minus the bench's epoch clock (`performance.timeOrigin + performance.now()`),
 * in ms, from the round trip with the least delay of a few `SELECT clock_timestamp()`.
 */
export async function clockOffsetMs(pool: Pool): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Infinity };
  for (let i = 0; i < 20; i++) {
    const sent = performance.now();
    const { rows } = await pool.query<{ ms: number }>(
      /* sql */ `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`,
    );
    const received = performance.now();
    const rtt = received - sent;
    if (rtt < best.rtt) best = { offset: rows[0].ms - (performance.timeOrigin + (sent + received) / 2), rtt };
  }
  return best;
}

/**
 * Runs `count` tasks on a fixed schedule, one every `intervalMs`, open loop: each starts at its
 * intended time (or as soon after as the timers allow) whatever the earlier ones are doing.
 * Resolves when all have settled, with how late the latest start was.
 */
async function openLoop(
  count: number,
  intervalMs: number,
  task: (index: number, due: number) => Promise<void>,
): Promise<{ maxStartLagMs: number }> {
  const started: Promise<void>[] = [];
  let maxStartLagMs = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const due = start + i * intervalMs;
    const wait = due - performance.now();
    if (wait >= 1) await sleep(Math.floor(wait));
    maxStartLagMs = Math.max(maxStartLagMs, performance.now() - due);
    started.push(task(i, due));
  }
  await Promise.all(started);
  return { maxStartLagMs };
}

const latencyText = (l: LatencySummary) => `p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms`;

/**
 * Commit-to-ack delays at a fixed 1,000 rows/s: 10 rows per transaction every 10 ms, per row
 * `published_at` (the relay's clock_timestamp() after Kafka's ack) minus the transaction's
 * COMMIT; then a bare producer sending each transaction's messages as one sendBatch on the same
 * schedule, its latency from the intended send time to the ack.
 */
async function fixedRateFigure(session: RelaySession, ctx: BenchContext, run: number) {
  const { pool } = session;
  await pool.query(/* sql */ `DELETE FROM outbox`);
  const base = EPOCH + (2 * run + 2) * VERSIONS_PER_RUN;
  const transactions = Math.max(1, Math.round((ctx.options.durationS * 1000) / TRANSACTION_INTERVAL_MS));
  const total = transactions * ROWS_PER_TRANSACTION;
  const changes = Array.from({ length: total }, (_, n) => taskChange(n, base));
  const clock = await clockOffsetMs(pool);
  const offsetsBefore = await endOffsets(session);
  const positionBefore = await feedPosition(pool);
  const commitEpoch = new Array<number>(transactions);
  const commitLag = new Array<number>(transactions);
  settleHeap();
  const begin = performance.now();
  const inserting = await openLoop(transactions, TRANSACTION_INTERVAL_MS, async (t, due) => {
    await insertTransaction(pool, changes.slice(t * ROWS_PER_TRANSACTION, (t + 1) * ROWS_PER_TRANSACTION));
    const now = performance.now();
    commitEpoch[t] = performance.timeOrigin + now;
    commitLag[t] = now - due;
  });
  const insertSeconds = (performance.now() - begin) / 1000;
  await drained(session, ctx, performance.now(), positionBefore, total);
  await expectLanded(session, offsetsBefore, total, 'the relay');
  const { rows: published } = await pool.query<{ version: string; ms: number }>(
    /* sql */ `SELECT change->>'version' AS version, (extract(epoch FROM published_at) * 1000)::float8 AS ms FROM outbox`,
  );
  if (published.length !== total) throw new Error(`the outbox holds ${published.length} rows, expected ${total}`);
  // published_at is Postgres' clock: brought to the bench's by the offset measured before.
  const delays = published.map(({ version, ms }) => {
    const t = Math.floor((Number(version) - base) / ROWS_PER_TRANSACTION);
    return ms - clock.offset - commitEpoch[t];
  });
  const relay = summariseLatencies(delays);
  const commits = summariseLatencies(commitLag);

  // The baseline: the same messages, each transaction's as one sendBatch, on the same schedule.
  const rows = await claimedRows(pool);
  const perTransaction = relayBatches(session.names, rows, ROWS_PER_TRANSACTION);
  if (perTransaction.length !== transactions)
    throw new Error(`the outbox holds ${rows.length} rows, expected ${transactions * ROWS_PER_TRANSACTION}`);
  const baselineBefore = await endOffsets(session);
  settleHeap();
  const sendLatencies = new Array<number>(transactions);
  const sending = await openLoop(transactions, TRANSACTION_INTERVAL_MS, async (t, due) => {
    await session.producer.sendBatch({ topicMessages: perTransaction[t], acks: -1 });
    sendLatencies[t] = performance.now() - due;
  });
  await expectLanded(session, baselineBefore, rows.length, 'the fixed-rate sendBatch baseline');
  await pool.query(/* sql */ `DELETE FROM outbox`);
  const producer = summariseLatencies(sendLatencies);

  ctx.log(`fixed rate: relay commit-to-ack ${latencyText(relay)}; bare producer ${latencyText(producer)}`);
  const detail =
    `${total} rows of ${GIDS} gids at ${FIXED_RATE} rows/s for ${round(insertSeconds, 2)} s, open loop: ` +
    `a transaction of ${ROWS_PER_TRANSACTION} rows (one NOTIFY) every ${TRANSACTION_INTERVAL_MS} ms over ≤ ${INSERT_CONNECTIONS} connections; ` +
    `delay = published_at (clock_timestamp() set after Kafka's ack) − the bench's time right after COMMIT returned ` +
    `(clocks: Postgres − bench ${round(clock.offset, 3)} ms, measured over a ${round(clock.rtt, 3)} ms round trip, subtracted); ` +
    `relay ${latencyText(relay)}; COMMIT returned after its intended time by p50 ${commits.p50} ms, p99 ${commits.p99} ms, ` +
    `max ${commits.max} ms (timer lag ≤ ${round(inserting.maxStartLagMs, 2)} ms); ` +
    `bare producer, ${transactions} sendBatch of ${ROWS_PER_TRANSACTION} on the same schedule, from intended send to ack: ` +
    `${latencyText(producer)} (timer lag ≤ ${round(sending.maxStartLagMs, 2)} ms)`;
  return { value: relay.p99, baselineValue: producer.p99, detail };
}

export default defineBenchmark<RelaySession>({
  name: 'relay',
  description:
    'the fanout relay as a real process (apps/fanout/src/main.js) publishing outbox rows to asana.changes.task, against a bare kafkajs producer sending the same messages',
  figures: [
    {
      name: 'rows_per_s_vs_send_batch',
      unit: 'rows/s',
      baseline: `kafkajs sendBatch (idempotent, acks=-1) of the same messages in batches of the relay's ${RELAY_BATCH_SIZE}, one after the other`,
      higherIsBetter: true,
      target: { ratio: 0.5 },
      targetRule: '≥ 50 % of best-case sendBatch',
    },
    {
      name: 'commit_to_ack_p99_at_1000_rows_per_s',
      unit: 'ms',
      baseline:
        "bare kafkajs producer's p99 send latency (intended send to ack) of the same messages at the same 1,000 messages/s, 10 per sendBatch",
      higherIsBetter: false,
      target: { maxValue: () => 50 },
      targetRule: 'p99 ≤ 50 ms',
    },
  ],

  async setup(ctx) {
    const installation = await ctx.installation();
    const topic = installation.names.physical(changeTopic('task').name);
    const pool = new Pool({ connectionString: installation.databaseUrl, max: INSERT_CONNECTIONS });
    ctx.onCleanup(() => pool.end());
    const listener = new PgNotifications(installation.databaseUrl);
    const feed = listener.channel(FEED_CHANNEL);
    await feed.start();
    ctx.onCleanup(() => listener.stop());
    const { admin, producer } = await connectedAdminAndProducer(ctx, 'asana-stream-bench-relay');
    await pool.query(/* sql */ `DELETE FROM outbox`);
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
    ctx.log(`fanout relaying the outbox to ${topic} (batch size ${RELAY_BATCH_SIZE})`);
    return {
      pool,
      admin,
      producer,
      names: installation.names,
      topic,
      fanout,
      feed,
      backlogRows: ctx.options.quick ? QUICK_BACKLOG_ROWS : BACKLOG_ROWS,
    };
  },

  async run(session, ctx, run) {
    if (run === 0) await warmUp(session, ctx);
    const backlog = await backlogFigure(session, ctx, run);
    const fixed = await fixedRateFigure(session, ctx, run);
    return {
      rows_per_s_vs_send_batch: { value: backlog.rate, baselineValue: backlog.baselineRate, detail: backlog.detail },
      commit_to_ack_p99_at_1000_rows_per_s: {
        value: fixed.value,
        baselineValue: fixed.baselineValue,
        detail: fixed.detail,
      },
    };
  },
});
