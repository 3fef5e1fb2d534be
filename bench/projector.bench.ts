import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Message, Producer } from 'kafkajs';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { TOPICS, type ResourceStateMessage } from '@asana-stream/contracts';
import { consumerGroupId } from '@asana-stream/kafka';
import { benchGid } from './lib/asana-deliveries';
import { defineBenchmark, type BenchContext } from './lib/benchmark';
import { committedTotal, connectedAdminAndProducer, endOffsetTotal, produceAll } from './lib/kafka';
import { localBrokerPid, localPostgresCpuSeconds, readCpuSeconds } from './lib/proc';
import { freePort, NodeProcess } from './lib/processes';
import { round } from './lib/stats';

/** State messages of the backlog, one per task (`--quick`: 5,000). */
const MESSAGES = 20_000;
const QUICK_MESSAGES = 5_000;
const PRODUCE_BATCH = 1000;
/** How often the projector's committed offsets are read while it drains. */
const POLL_MS = 10;
const EPOCH = Date.UTC(2026, 10, 22, 10, 0, 0);

/**
 * The n-th task's state of a run as the enricher publishes it: a live task versioned by
 * `modified_at`, each run's later than the last's.
 */
function taskState(n: number, run: number): ResourceStateMessage {
  const gid = benchGid(n);
  const version = EPOCH + run * 100_000_000 + n;
  const modifiedAt = new Date(version).toISOString();
  return {
    gid,
    type: 'task',
    version,
    versionSource: 'modified_at',
    deleted: false,
    state: {
      gid,
      resource_type: 'task',
      name: `Task ${n}`,
      completed: n % 3 === 0,
      assignee: { gid: String(42 + (n % 50)), resource_type: 'user' },
      workspace: { gid: '1100', resource_type: 'workspace' },
      modified_at: modifiedAt,
    },
    fetchedAt: modifiedAt,
    causes: [`bench-event-${n}`],
  };
}

/** The `tasks` row the projector makes of `message` (the columns of libs/db's initial schema). */
function taskRow(message: ResourceStateMessage): (string | boolean | number | null)[] {
  const state = message.state as unknown as {
    name: string;
    completed: boolean;
    assignee: { gid: string };
    workspace: { gid: string };
  };
  return [
    message.gid,
    JSON.stringify(message.state),
    message.version,
    null,
    new Date().toISOString(),
    state.name,
    state.completed,
    state.assignee.gid,
    state.workspace.gid,
  ];
}

const TASK_COLUMNS = 'gid, state, version, deleted_at, updated_at, name, completed, assignee_gid, workspace_gid';

/** One CSV field as Postgres' `COPY ... (FORMAT csv)` reads it: empty unquoted is NULL. */
function csvField(value: string | boolean | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) || text === '' ? `"${text.replace(/"/g, '""')}"` : text;
}

interface ProjectorSession {
  admin: Admin;
  producer: Producer;
  databaseUrl: string;
  topic: string;
  groupId: string;
  /** States per run. */
  count: number;
  /** The installation's environment, the projector's. */
  env: Record<string, string>;
}

interface RunningProjector extends ProjectorSession {
  projector: NodeProcess;
  /** The first backlog the fresh process drained (not a run: its code was not yet optimised). */
  coldStart: { rate: number; seconds: number };
}

async function withClient<T>(databaseUrl: string, work: (sql: Client) => Promise<T>): Promise<T> {
  const sql = new Client({ connectionString: databaseUrl });
  await sql.connect();
  try {
    return await work(sql);
  } finally {
    await sql.end();
  }
}

const emptyTables = (sql: Client) => sql.query(/* sql */ `TRUNCATE tasks, outbox`);

/** Rows of `tasks`; with `versions`, only those of that range (one run's states). */
async function countTasks(sql: Client, versions: [number, number] = [0, Number.MAX_SAFE_INTEGER]): Promise<number> {
  const { rows } = await sql.query<{ n: string }>(
    /* sql */ `SELECT count(*) AS n FROM tasks WHERE version BETWEEN $1 AND $2`,
    versions,
  );
  return Number(rows[0].n);
}

/**
 * Rows per second of `COPY tasks FROM STDIN` of the rows the projector makes of the states, and
 * the CPU seconds its Postgres backend used (undefined when Postgres runs on another machine).
 */
async function copyRate(
  session: ProjectorSession,
  states: ResourceStateMessage[],
): Promise<{ rate: number; seconds: number; postgresCpu: number | undefined }> {
  return withClient(session.databaseUrl, async (sql) => {
    await emptyTables(sql);
    const csv = states.map((m) => `${taskRow(m).map(csvField).join(',')}\n`).join('');
    const { rows } = await sql.query<{ pid: number }>(/* sql */ `SELECT pg_backend_pid() AS pid`);
    const backendCpu = () => readCpuSeconds(rows[0].pid);
    const cpuBefore = backendCpu();
    const begin = performance.now();
    await pipeline(
      Readable.from([csv]),
      sql.query(copyFrom(/* sql */ `COPY tasks (${TASK_COLUMNS}) FROM STDIN (FORMAT csv)`)),
    );
    const seconds = (performance.now() - begin) / 1000;
    const cpuAfter = backendCpu();
    const stored = await countTasks(sql);
    if (stored !== states.length) throw new Error(`COPY stored ${stored} rows of ${states.length}`);
    const postgresCpu = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
    return { rate: stored / seconds, seconds, postgresCpu };
  });
}

/**
 * Rows per second of the obvious projector: per state, a transaction with one upsert guarded by
 * the version, from a plain `pg` client, one after another.
 */
async function naiveUpsertRate(
  session: ProjectorSession,
  states: ResourceStateMessage[],
): Promise<{ rate: number; seconds: number }> {
  return withClient(session.databaseUrl, async (sql) => {
    await emptyTables(sql);
    const upsert = /* sql */ `INSERT INTO tasks (${TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
      ON CONFLICT (gid) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version,
        deleted_at = EXCLUDED.deleted_at, updated_at = EXCLUDED.updated_at, name = EXCLUDED.name,
        completed = EXCLUDED.completed, assignee_gid = EXCLUDED.assignee_gid, workspace_gid = EXCLUDED.workspace_gid
      WHERE tasks.version < EXCLUDED.version`;
    const begin = performance.now();
    for (const message of states) {
      await sql.query('BEGIN');
      await sql.query(upsert, taskRow(message));
      await sql.query('COMMIT');
    }
    const seconds = (performance.now() - begin) / 1000;
    const stored = await countTasks(sql);
    if (stored !== states.length) throw new Error(`the upserts stored ${stored} rows of ${states.length}`);
    return { rate: stored / seconds, seconds };
  });
}

/** The projector as deployed: one real process for every run, started (and left to settle) in setup. */
async function startProjector(session: ProjectorSession, ctx: BenchContext): Promise<NodeProcess> {
  const port = await freePort();
  const projector = new NodeProcess({
    name: 'projector',
    entry: 'apps/projector/src/main.js',
    env: { ...session.env, PORT: String(port), HOST: '127.0.0.1', KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    logDir: ctx.logDir,
    cpuProfile: ctx.options.cpuProfile,
  }).start();
  ctx.onCleanup(() => projector.stop());
  await groupStable(session.admin, session.groupId, projector);
  return projector;
}

/**
 * Rows per second of the running projector applying a backlog of `states`: it is frozen (SIGSTOP)
 * while the backlog is written to asana.state, then thawed (SIGCONT), and the clock runs from the
 * thaw to its commit of the last offset, read every 10 ms; the states must then all be in Postgres.
 * The CPU the projector, the local Postgres and the local broker used meanwhile is read too.
 */
async function drainRate(
  session: ProjectorSession,
  ctx: BenchContext,
  projector: NodeProcess,
  states: ResourceStateMessage[],
): Promise<{ rate: number; seconds: number; cpu: DrainCpu }> {
  await withClient(session.databaseUrl, emptyTables);
  const before = await endOffsetTotal(session.admin, session.topic);
  const committedBefore = await committedTotal(session.admin, session.groupId, session.topic);
  // States other benchmarks left in asana.state (the enricher's) are drained first, and counted.
  const startedAt = Math.min(before, committedBefore);
  if (startedAt < before) ctx.log(`projector: ${before - startedAt} earlier messages of asana.state drained too`);
  const messages: Message[] = states.map((state) => ({ key: state.gid, value: JSON.stringify(state) }));
  const end = before + states.length;
  projector.freeze();
  try {
    await produceAll(session.producer, session.topic, messages, PRODUCE_BATCH);
  } finally {
    projector.thaw();
  }
  const cpuBefore = cpuSnapshot(projector);
  const begin = performance.now();
  const deadline = begin + ctx.options.drainTimeoutS * 1000;
  for (;;) {
    if (!projector.running) throw new Error(`the projector exited; see ${projector.logFile}`);
    const committed = await committedTotal(session.admin, session.groupId, session.topic);
    const at = performance.now();
    if (committed >= end) {
      const seconds = (at - begin) / 1000;
      const cpu = cpuSince(cpuBefore, cpuSnapshot(projector));
      const stored = await withClient(session.databaseUrl, (sql) =>
        countTasks(sql, [states[0].version, states[states.length - 1].version]),
      );
      if (stored !== states.length)
        throw new Error(`the projector committed every offset but stored ${stored} of ${states.length}`);
      return { rate: (end - startedAt) / seconds, seconds, cpu };
    }
    if (at > deadline)
      throw new Error(`the projector committed ${committed - before} of ${states.length} within the drain timeout`);
    await sleep(POLL_MS);
  }
}

/** CPU seconds each process used over a drain; undefined for what does not run on this machine. */
type DrainCpu = Record<'projector' | 'postgres' | 'broker', number | undefined>;

function cpuSnapshot(projector: NodeProcess): DrainCpu {
  const broker = localBrokerPid();
  return {
    projector: projector.pid === undefined ? undefined : readCpuSeconds(projector.pid),
    postgres: localPostgresCpuSeconds(),
    broker: broker === undefined ? undefined : readCpuSeconds(broker),
  };
}

function cpuSince(before: DrainCpu, after: DrainCpu): DrainCpu {
  const used = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : b - a;
  return {
    projector: used(before.projector, after.projector),
    postgres: used(before.postgres, after.postgres),
    broker: used(before.broker, after.broker),
  };
}

/** "projector 0.91 s, Postgres 1.62 s, broker 0.3 s" (what does not run here is named as such). */
function describeCpu(cpu: DrainCpu): string {
  const part = (name: string, seconds: number | undefined) =>
    seconds === undefined ? `${name} not on this machine` : `${name} ${round(seconds, 2)} s`;
  return [part('projector', cpu.projector), part('Postgres', cpu.postgres), part('broker', cpu.broker)].join(', ');
}

/** Resolves once the group is Stable with a member: the projector has its partitions and fetches. */
async function groupStable(admin: Admin, groupId: string, projector: NodeProcess): Promise<void> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const [group] = (await admin.describeGroups([groupId])).groups;
    if (group?.state === 'Stable' && group.members.length > 0) return;
    if (!projector.running) throw new Error(`the projector exited; see ${projector.logFile}`);
    if (performance.now() > deadline) throw new Error(`the projector's group ${groupId} did not settle within 60 s`);
    await sleep(POLL_MS);
  }
}

export default defineBenchmark<RunningProjector>({
  name: 'projector',
  description:
    'the projector as a real process (apps/projector/src/main.js) applying a backlog of asana.state messages to Postgres, against COPY of the same rows and one upsert per transaction',
  figures: [
    {
      name: 'rows_per_s_vs_copy',
      unit: 'rows/s',
      baseline: 'COPY tasks FROM STDIN (csv) of the same rows, one statement, same database',
      higherIsBetter: true,
      target: { ratio: 0.35 },
      targetRule: '≥ 35 % of COPY',
    },
    {
      name: 'rows_per_s_vs_upsert_per_transaction',
      unit: 'rows/s',
      baseline: 'plain pg: per state, BEGIN; INSERT … ON CONFLICT DO UPDATE … WHERE version <; COMMIT',
      higherIsBetter: true,
      target: { ratio: 10 },
      targetRule: '≥ 10 × one upsert per transaction',
    },
  ],

  async setup(ctx) {
    const installation = await ctx.installation();
    const topic = installation.names.physical(TOPICS.state.name);
    const { admin, producer } = await connectedAdminAndProducer(ctx, 'asana-stream-bench-projector');
    const groupId = consumerGroupId(ctx.prefix, 'projector');
    const session: ProjectorSession = {
      admin,
      producer,
      databaseUrl: installation.databaseUrl,
      topic,
      groupId,
      count: ctx.options.quick ? QUICK_MESSAGES : MESSAGES,
      env: installation.env,
    };
    const projector = await startProjector(session, ctx);
    const warmUp = Array.from({ length: session.count }, (_, n) => taskState(n, 0));
    const coldStart = await drainRate(session, ctx, projector, warmUp);
    ctx.log(
      `projector, first backlog after its start (not a run): ${round(coldStart.rate)} rows/s (${round(coldStart.seconds, 2)} s)`,
    );
    return { ...session, projector, coldStart };
  },

  async run(session, ctx, run) {
    const states = Array.from({ length: session.count }, (_, n) => taskState(n, run));
    const copy = await copyRate(session, states);
    const copyCpu =
      copy.postgresCpu === undefined ? 'Postgres not on this machine' : `its backend ${round(copy.postgresCpu, 2)} s`;
    ctx.log(`COPY: ${round(copy.rate)} rows/s (${round(copy.seconds, 2)} s; CPU ${copyCpu})`);
    const naive = await naiveUpsertRate(session, states);
    ctx.log(`one upsert per transaction: ${round(naive.rate)} rows/s (${round(naive.seconds, 2)} s)`);
    const projector = await drainRate(session, ctx, session.projector, states);
    ctx.log(
      `projector: ${round(projector.rate)} rows/s (${round(projector.seconds, 2)} s; CPU ${describeCpu(projector.cpu)})`,
    );
    const detail =
      `${states.length} task states, one per gid, on ${TOPICS.state.partitions} partitions, sent to asana.state while ` +
      `the running projector was frozen; timed from its thaw to its commit of the last, ` +
      `${round(projector.seconds, 2)} s; CPU used meanwhile: ${describeCpu(projector.cpu)} ` +
      `(/proc, the local server's processes); it also writes an outbox row per change, the baselines do not; ` +
      `the first backlog after its start (not a run): ${round(session.coldStart.rate)} rows/s`;
    return {
      rows_per_s_vs_copy: {
        value: projector.rate,
        baselineValue: copy.rate,
        detail: `${detail}; the COPY took ${round(copy.seconds, 2)} s, CPU ${copyCpu}`,
      },
      rows_per_s_vs_upsert_per_transaction: { value: projector.rate, baselineValue: naive.rate, detail },
    };
  },
});
