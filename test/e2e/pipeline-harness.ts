import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TopicNames } from '@asana-stream/contracts';
import {
  AppProcess,
  freePort,
  TEST_BROKERS,
  type AppExit,
  type OtlpReceiver,
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

export async function startPipeline(db: TestDatabase, names: TopicNames, receiver: OtlpReceiver): Promise<Pipeline> {
  const logDir = join(REPO_ROOT, '.local/e2e', `${new Date().toISOString().replace(/[:.]/g, '-')}-${names.prefix}`);
  const [simPort, ingestPort, enricherPort, projectorPort, fanoutPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const simulator = new AppProcess({
    app: 'asana-simulator',
    port: simPort,
    logDir,
    // An empty project: everything in it is created after the webhook, so the pipeline sees all of it.
    env: { SIM_TOKEN, SIM_DELIVERY_DELAY_MS: '30', SIM_SEED_TASKS_PER_PROJECT: '0', SIM_RETRY_BASE_MS: '200' },
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
  };
  const { ASANA_BASE_URL: _a, ASANA_TOKEN: _t, ...withoutAsana } = shared;
  const ingest = new AppProcess({ app: 'ingest', port: ingestPort, logDir, env: withoutAsana });
  const enricher = new AppProcess({ app: 'enricher', port: enricherPort, logDir, env: shared });
  const projector = new AppProcess({ app: 'projector', port: projectorPort, logDir, env: withoutAsana });
  const fanout = new AppProcess({ app: 'fanout', port: fanoutPort, logDir, env: withoutAsana });
  await Promise.all([simulator, ingest, enricher, projector, fanout].map((app) => app.start()));
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

/** Asana's API as the simulator serves it. */
export class SimulatedAsana {
  constructor(private readonly baseUrl: string) {}

  async call<T>(method: string, path: string, data?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${SIM_TOKEN}`, 'content-type': 'application/json' },
      body: data === undefined ? undefined : JSON.stringify({ data }),
    });
    const body = (await response.json()) as { data: T };
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${JSON.stringify(body)}`);
    return body.data;
  }
}
