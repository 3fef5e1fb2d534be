import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { PipelineStatus } from '../../apps/cli/src/commands/status.command';

export type { PipelineStatus };
import { TOPICS, type RawDeliveryRecord, type ResourceChangeMessage, type TopicNames } from '@asana-stream/contracts';
import {
  AppProcess,
  freePort,
  TEST_BROKERS,
  testKafka,
  TEST_WEBHOOK_SECRET_KEYS,
  waitFor,
  type AppExit,
  type OtlpReceiver,
  type ReceivedMessage,
  type TestDatabase,
} from '@asana-stream/testing';

const run = promisify(execFile);
export const REPO_ROOT = resolve(__dirname, '../..');
export const SIM_TOKEN = 'e2e-sim-token';

/** Every app of the pipeline, plus the simulator, as real processes sharing one database and topic prefix. */
export interface Pipeline {
  simulator: AppProcess;
  ingest: AppProcess;
  enricher: AppProcess;
  projector: AppProcess;
  fanout: AppProcess;
  /** Env for the cli (`node dist/apps/cli/src/main.js`). */
  cliEnv: Record<string, string>;
  logDir: string;
}

/**
 * `simulatorEnv` adds to (or overrides) the simulator's settings, e.g. its webhook fault rates;
 * `enricherEnv` the enricher's, e.g. how often it reads the Events API.
 */
export async function startPipeline(
  db: TestDatabase,
  names: TopicNames,
  receiver: OtlpReceiver,
  simulatorEnv: Record<string, string> = {},
  enricherEnv: Record<string, string> = {},
): Promise<Pipeline> {
  const logDir = join(REPO_ROOT, '.local/e2e', `${new Date().toISOString().replace(/[:.]/g, '-')}-${names.prefix}`);
  const [simPort, ingestPort, enricherPort, projectorPort, fanoutPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const simulator = new AppProcess({
    app: 'asana-simulator',
    port: simPort,
    logDir,
    // An empty project: everything in it is created after the webhook, so the pipeline sees all of it.
    env: {
      SIM_TOKEN,
      SIM_DELIVERY_DELAY_MS: '30',
      SIM_SEED_TASKS_PER_PROJECT: '0',
      SIM_RETRY_BASE_MS: '200',
      ...simulatorEnv,
    },
  });
  const shared = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: TEST_BROKERS,
    KAFKA_TOPIC_PREFIX: names.prefix,
    ASANA_BASE_URL: `${simulator.url}/api/1.0`,
    ASANA_TOKEN: SIM_TOKEN,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '200',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    // ingest encrypts the secrets; the enricher and the cli read them with the same keys.
    WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS,
  };
  const { ASANA_BASE_URL: _a, ASANA_TOKEN: _t, ...withoutAsana } = shared;
  const ingest = new AppProcess({ app: 'ingest', port: ingestPort, logDir, env: withoutAsana });
  // The enricher creates again a webhook Asana deleted, with ingest as its target.
  const enricher = new AppProcess({
    app: 'enricher',
    port: enricherPort,
    logDir,
    env: { ...shared, INGEST_PUBLIC_URL: ingest.url, ...enricherEnv },
  });
  const projector = new AppProcess({ app: 'projector', port: projectorPort, logDir, env: withoutAsana });
  const fanout = new AppProcess({ app: 'fanout', port: fanoutPort, logDir, env: withoutAsana });
  const apps = [simulator, ingest, enricher, projector, fanout];
  const started = await Promise.allSettled(apps.map((app) => app.start()));
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    // No app outlives a pipeline that could not start (its test fails; the next must not meet it).
    await Promise.all(apps.map((app) => app.stop(5000)));
    throw failed.reason;
  }
  return {
    simulator,
    ingest,
    enricher,
    projector,
    fanout,
    logDir,
    cliEnv: { ...shared, INGEST_PUBLIC_URL: ingest.url },
  };
}

export async function stopPipeline(pipeline: Pipeline | undefined): Promise<AppExit[]> {
  if (!pipeline) return [];
  const { ingest, enricher, projector, fanout, simulator } = pipeline;
  return Promise.all([ingest, enricher, projector, fanout, simulator].map((app) => app.stop()));
}

/** Runs the operators' cli as a process and returns its stdout. */
export async function runCli(env: Record<string, string>, ...args: string[]): Promise<string> {
  const { stdout, stderr } = await run(process.execPath, [join(REPO_ROOT, 'dist/apps/cli/src/main.js'), ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd: REPO_ROOT,
  });
  if (!stdout.trim()) throw new Error(`asana-stream ${args.join(' ')} printed nothing; stderr:\n${stderr}`);
  return stdout;
}

/** The gids of the simulator's projects, through Asana's API. */
export async function simulatedProjectGids(pipeline: Pipeline): Promise<string[]> {
  const asana = new SimulatedAsana(`${pipeline.simulator.url}/api/1.0`);
  const [workspace] = await asana.call<{ gid: string }[]>('GET', '/workspaces');
  const projects = await asana.call<{ gid: string }[]>('GET', `/projects?workspace=${workspace.gid}`);
  return projects.map((project) => project.gid);
}

/**
 * `asana-stream webhooks create --resource <gid>`: the handshake runs through the pipeline's
 * ingest. Also returns everything the command wrote, to check that no secret is in it.
 */
export async function createWebhook(
  pipeline: Pipeline,
  resourceGid: string,
): Promise<{ subscription: { id: string; status: string } & Record<string, unknown>; output: string }> {
  const { stdout, stderr } = await run(
    process.execPath,
    [join(REPO_ROOT, 'dist/apps/cli/src/main.js'), 'webhooks', 'create', '--resource', resourceGid, '--json'],
    { env: { PATH: process.env.PATH ?? '', ...pipeline.cliEnv }, cwd: REPO_ROOT },
  );
  return { subscription: JSON.parse(stdout) as { id: string; status: string }, output: stdout + stderr };
}

/** Asana's API as the simulator serves it. */
export class SimulatedAsana {
  constructor(
    private readonly baseUrl: string,
    private readonly token = SIM_TOKEN,
  ) {}

  async call<T>(method: string, path: string, data?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: data === undefined ? undefined : JSON.stringify({ data }),
    });
    const body = (await response.json()) as { data: T };
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${JSON.stringify(body)}`);
    return body.data;
  }
}

/** One query against the pipeline's database. */
export async function queryDatabase<R extends object>(db: TestDatabase, sql: string): Promise<R[]> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** A row of the tasks table as the projector left it. */
export interface ProjectedTask {
  gid: string;
  name: string;
  completed: boolean;
  assignee_gid: string | null;
  deleted: boolean;
  version: string;
  state: unknown;
}

/** The tasks table, by gid. */
export function projectedTasks(db: TestDatabase): Promise<ProjectedTask[]> {
  return queryDatabase<ProjectedTask>(
    db,
    /* sql */ `SELECT gid, name, completed, assignee_gid, deleted_at IS NOT NULL AS deleted, version, state FROM tasks ORDER BY gid`,
  );
}

/** A task as the simulator holds it (`/_sim/state`), trashed ones included. */
export interface SimulatedTask {
  gid: string;
  name: string;
  completed: boolean;
  assignee: { gid: string } | null;
  deleted: boolean;
}

/** Every task of the simulator, by gid. */
export async function simulatedTasks(pipeline: Pipeline): Promise<SimulatedTask[]> {
  const response = await fetch(`${pipeline.simulator.url}/_sim/state`);
  const { data } = (await response.json()) as { data: { tasks: SimulatedTask[] } };
  return data.tasks.sort((a, b) => a.gid.localeCompare(b.gid));
}

/** What Postgres should hold for these simulated tasks, in the shape of `ProjectedTask`. */
export function expectedRows(tasks: SimulatedTask[]) {
  return tasks.map((t) => ({
    gid: t.gid,
    name: t.name,
    completed: t.completed,
    assignee_gid: t.assignee?.gid ?? null,
    deleted: t.deleted,
  }));
}

/** The comparable part of projected rows (what `expectedRows` gives for the simulator's). */
export function comparableRows(rows: ProjectedTask[]) {
  return rows.map(({ gid, name, completed, assignee_gid, deleted }) => ({
    gid,
    name,
    completed,
    assignee_gid,
    deleted,
  }));
}

/** `asana-stream status --json`, run as the operators run it. */
export async function pipelineStatus(pipeline: Pipeline): Promise<PipelineStatus> {
  return JSON.parse(await runCli(pipeline.cliEnv, 'status', '--json')) as PipelineStatus;
}

/**
 * The change messages of each gid in topic order, after checking what must hold for every gid:
 * all on one partition, versions and changeIds strictly increasing.
 */
export function changesInOrderByGid(messages: ReceivedMessage[]): Map<string, ResourceChangeMessage[]> {
  const byGid = new Map<string, ReceivedMessage[]>();
  for (const message of messages) byGid.set(message.key!, [...(byGid.get(message.key!) ?? []), message]);
  const ordered = new Map<string, ResourceChangeMessage[]>();
  for (const [gid, received] of byGid) {
    expect({ gid, partitions: new Set(received.map((m) => m.partition)).size }).toEqual({ gid, partitions: 1 });
    const inOrder = received
      .sort((a, b) => Number(a.offset) - Number(b.offset))
      .map((m) => m.value as ResourceChangeMessage);
    inOrder.forEach((change, i) => {
      expect(change.gid).toBe(gid);
      if (i === 0) return;
      expect(change.version).toBeGreaterThan(inOrder[i - 1].version);
      expect(BigInt(change.changeId)).toBeGreaterThan(BigInt(inOrder[i - 1].changeId));
    });
    ordered.set(gid, inOrder);
  }
  return ordered;
}

/**
 * The first `count` records of `asana.deliveries`, as stored: the raw body as the value (not JSON
 * to decode, unlike TopicRecorder's messages) and what ingest knows about it in the headers.
 */
export async function recordedDeliveries(names: TopicNames, count: number): Promise<RawDeliveryRecord[]> {
  const records = new Map<string, RawDeliveryRecord>();
  const consumer = testKafka().consumer({ groupId: `e2e-deliveries-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [names.physical(TOPICS.deliveries.name)], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        records.set(`${partition}/${message.offset}`, {
          key: message.key?.toString() ?? '',
          value: message.value ?? Buffer.alloc(0),
          headers: headers as RawDeliveryRecord['headers'],
        });
      },
    });
    await waitFor(`the ${count} recorded deliveries`, () => records.size >= count);
  } finally {
    await consumer.disconnect();
  }
  return [...records.values()];
}
