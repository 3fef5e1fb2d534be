import { randomBytes, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { TOPICS, type AsanaEventEnvelope, type TopicNames } from '@asana-stream/contracts';
import { parseExposition, sumOf, type Exposition } from '@asana-stream/metrics';
import {
  AppProcess,
  createTestDatabase,
  createTestTopics,
  freePort,
  runCli,
  startSimulatorProcess,
  TopicRecorder,
  waitFor,
  TEST_BROKERS,
  type SimulatorProcess,
  type TestDatabase,
} from '@asana-stream/testing';

const REPO_ROOT = resolve(__dirname, '../../../..');
// Four processes and the cli, on a machine other tests share.
jest.setTimeout(240_000);

interface SweepRow {
  last_resync_at: Date | null;
  last_sweep_at: Date | null;
  swept_through: Date | null;
  sweep_requested_since: Date | null;
}

/**
 * The light sweep as deployed: the enricher and the projector as processes, against the simulator,
 * on a project whose webhook delivers nothing and whose Events API is read only at start (every
 * hour), so that what changes after the first full resync can only come back through the sweep.
 */
describe('the light sweep of a watched project (enricher and projector processes, real Kafka and Postgres)', () => {
  let names: TopicNames;
  let db: TestDatabase;
  let sim: SimulatorProcess;
  let pg: Client;
  let enricher: AppProcess | undefined;
  let projector: AppProcess | undefined;
  let recorder: TopicRecorder | undefined;
  let project: string;
  let tasks: string[];
  const logDir = join(REPO_ROOT, '.local/test-processes', `sweep-${randomBytes(3).toString('hex')}`);

  beforeAll(async () => {
    [names, db] = await Promise.all([createTestTopics(), createTestDatabase()]);
    sim = await startSimulatorProcess({ SIM_RATE_LIMIT_REQUESTS: '0', SIM_SEED_TASKS_PER_PROJECT: '4' }, logDir);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    const state = (await (await fetch(`${sim.baseUrl}/_sim/state`)).json()) as {
      data: { projects: { gid: string }[] };
    };
    project = state.data.projects[0].gid;
    tasks = await sim.firstProjectTaskGids();
    await pg.query(
      `INSERT INTO subscriptions (id, resource_gid, target_url, status) VALUES ($1, $2, 'http://ingest/x', 'active')`,
      [randomUUID(), project],
    );
    recorder = await new TopicRecorder([names.physical(TOPICS.events.name)]).start();
    const shared = {
      KAFKA_BROKERS: TEST_BROKERS,
      KAFKA_TOPIC_PREFIX: names.prefix,
      DATABASE_URL: db.url,
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
    };
    projector = new AppProcess({ app: 'projector', port: await freePort(), logDir, env: shared });
    enricher = new AppProcess({
      app: 'enricher',
      port: await freePort(),
      logDir,
      env: {
        ...shared,
        ASANA_BASE_URL: sim.apiUrl,
        ASANA_TOKEN: sim.token,
        EVENTS_POLL_INTERVAL_MS: '3600000',
        RESYNC_SWEEP_INTERVAL_MS: '1500',
      },
    });
    await Promise.all([projector.start(), enricher.start()]);
  });

  afterAll(async () => {
    await recorder?.stop();
    await Promise.all([enricher?.stop(), projector?.stop()]);
    await pg?.end();
    await sim?.stop();
    await db?.drop();
  });

  const stream = async (): Promise<SweepRow> =>
    (await pg.query<SweepRow>('SELECT * FROM event_streams WHERE resource_gid = $1', [project])).rows[0];
  const projectedName = async (gid: string): Promise<string | undefined> =>
    (await pg.query<{ name: string }>('SELECT name FROM tasks WHERE gid = $1', [gid])).rows[0]?.name;
  const metrics = async (): Promise<Exposition> =>
    parseExposition(await (await fetch(`${enricher!.url}/metrics`)).text());
  const resyncRepairs = () =>
    recorder!.messages
      .filter((m) => m.topic === names.physical(TOPICS.events.name))
      .map((m) => m.value as AsanaEventEnvelope)
      .filter((e) => e.source === 'resync');
  const rename = (gid: string, name: string) =>
    fetch(`${sim.apiUrl}/tasks/${gid}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { name } }),
    });
  const status = async () => {
    const run = await runCli({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix }, ['status', '--json'], {
      timeoutMs: 120_000,
    });
    expect(run.code).toBe(0);
    return (JSON.parse(run.stdout) as { resync: Record<string, unknown> & { resources: Record<string, unknown>[] } })
      .resync;
  };

  it('starts from a full resync, after which an unchanged project costs one list request per sweep and emits nothing', async () => {
    const first = await waitFor('the first full resync', async () => {
      const row = await stream();
      return row?.last_resync_at ? row : undefined;
    });
    // A full resync is a sweep too: the light ones list from its start on.
    expect(first.swept_through).not.toBeNull();
    await waitFor('the project and its tasks in Postgres', async () => {
      const { rows } = await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks WHERE gid = ANY($1)', [
        tasks,
      ]);
      return rows[0].n === tasks.length;
    });
    expect(resyncRepairs().length).toBeGreaterThanOrEqual(tasks.length + 1);
    const sweeps = async () => sumOf(await metrics(), 'asana_stream_resync_sweeps_total', { outcome: 'done' });
    // A sweep that started before the projector had applied the resync's repairs may repeat some.
    const settled = (await sweeps()) + 2;
    await waitFor('two sweeps after Postgres had everything', async () => (await sweeps()) >= settled);

    // Sweeps come round; each one lists once, finds every task current, and publishes nothing.
    const repairsBefore = resyncRepairs().length;
    const start = await metrics();
    const count = (samples: Exposition) => ({
      sweeps: sumOf(samples, 'asana_stream_resync_sweeps_total', { outcome: 'done' }),
      requests: sumOf(samples, 'asana_stream_asana_requests_total', { purpose: 'sweep' }),
    });
    const read = await waitFor('two more sweeps, none in flight', async () => {
      const samples = await metrics();
      const [from, to] = [count(start), count(samples)];
      return to.sweeps >= from.sweeps + 2 && to.requests - from.requests === to.sweeps - from.sweeps
        ? samples
        : undefined;
    });
    expect(sumOf(read, 'asana_stream_asana_requests_total', { purpose: 'sweep', outcome: 'ok' })).toBe(
      count(read).requests,
    );
    expect(sumOf(read, 'asana_stream_resyncs_total', { outcome: 'done' })).toBe(1);
    expect(resyncRepairs()).toHaveLength(repairsBefore);
    expect((await stream()).last_sweep_at).not.toBeNull();
  });

  it('repairs a change whose webhook was lost, without a full resync', async () => {
    const before = await metrics();
    expect((await rename(tasks[1], 'Renamed while no webhook delivered')).status).toBe(200);
    await waitFor(
      'the sweep to repair the task in Postgres',
      async () => (await projectedName(tasks[1])) === 'Renamed while no webhook delivered',
    );
    const after = await metrics();
    expect(sumOf(after, 'asana_stream_resyncs_total', {})).toBe(sumOf(before, 'asana_stream_resyncs_total', {}));
    expect(sumOf(after, 'asana_stream_resync_repairs_total', { cause: 'stale' })).toBe(
      sumOf(before, 'asana_stream_resync_repairs_total', { cause: 'stale' }) + 1,
    );
    expect(resyncRepairs().at(-1)?.event.resource.gid).toBe(tasks[1]);
  });

  it('shows the age of the oldest divergence growing while it is unrepaired, and 0 once Postgres caught up', async () => {
    await waitFor('no divergence open', async () => (await status()).openDivergences === 0);
    // The projector stops: the sweep finds the change and repairs it, but Postgres stays behind.
    await projector!.stop();
    expect((await rename(tasks[2], 'Renamed while the projector was down')).status).toBe(200);
    const found = await waitFor('the divergence found', async () => {
      const now = await status();
      return now.openDivergences === 1 ? now : undefined;
    });
    expect(found.resources).toEqual([
      expect.objectContaining({ resource: project, openDivergences: 1, oldestDivergenceAt: expect.any(String) }),
    ]);
    const gauge = async () => sumOf(await metrics(), 'asana_stream_divergence_oldest_age_seconds', {});
    const earlier = await waitFor('the gauge to see it', async () => ((await gauge()) > 0 ? gauge() : undefined));
    await waitFor('the age to grow', async () => (await gauge()) >= earlier + 1);
    expect((await status()).oldestDivergenceAgeSeconds).toBeGreaterThanOrEqual(1);
    expect(sumOf(await metrics(), 'asana_stream_divergences_open', {})).toBe(1);

    await projector!.start();
    await waitFor(
      'Postgres to catch up',
      async () => (await projectedName(tasks[2])) === 'Renamed while the projector was down',
    );
    await waitFor('the gauge back to 0', async () => (await gauge()) === 0);
    const caughtUp = await status();
    expect(caughtUp).toMatchObject({ openDivergences: 0, oldestDivergenceAgeSeconds: 0 });
    expect(caughtUp.resources).toEqual([expect.objectContaining({ openDivergences: 0, oldestDivergenceAt: null })]);
  });

  it('sweeps from the time `reconcile --since` gives, listing only what Asana modified since', async () => {
    // reconcile needs no Asana token, but the cli's configuration asks for one.
    const cli = (args: string[]) =>
      runCli({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix, ASANA_TOKEN: 'unused' }, args, {
        timeoutMs: 120_000,
      });
    const refused = await cli(['reconcile', '--resource', project, '--since', 'yesterday']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^asana-stream: --since takes an ISO time .*got "yesterday"$/);

    expect((await rename(tasks[0], 'Before the time asked for')).status).toBe(200);
    await new Promise((done) => setTimeout(done, 50));
    const since = new Date();
    await new Promise((done) => setTimeout(done, 50));
    expect((await rename(tasks[3], 'After the time asked for')).status).toBe(200);
    const asked = await cli(['reconcile', '--resource', project, '--since', since.toISOString(), '--json']);
    expect(asked.code).toBe(0);
    expect(JSON.parse(asked.stdout)).toEqual({
      resource: project,
      requested: true,
      kind: 'sweep',
      since: since.toISOString(),
      watched: true,
    });
    // The requested sweep logs what it listed: one task, the one modified after the time.
    const done = await waitFor('the requested sweep', () => sweepLine(enricher!.logFile, since.toISOString()));
    expect(done).toMatchObject({ resourceGid: project, kind: 'done', pages: 1, checked: 1 });
    expect((await stream()).sweep_requested_since).toBeNull();
    // --help says what --since takes.
    const help = await cli(['reconcile', '--help']);
    expect(help.stdout).toContain('--since <time>');
    expect(help.stdout).toMatch(/ISO time[\s\S]*a duration back from now/);
  });
});

/** The `sweep done` log line of the sweep from `since`, if there is one yet. */
async function sweepLine(logFile: string, since: string): Promise<Record<string, unknown> | undefined> {
  const { readFile } = await import('node:fs/promises');
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    if (!line.includes('"sweep done"')) continue;
    const message = (JSON.parse(line) as { message: Record<string, unknown> }).message;
    if (message.since === since) return message;
  }
  return undefined;
}
