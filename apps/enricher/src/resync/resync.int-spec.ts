import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { TOPICS, type AsanaEventEnvelope, type ResourceStateMessage, type TopicNames } from '@asana-stream/contracts';
import { parseExposition, sumOf } from '@asana-stream/metrics';
import {
  AppProcess,
  createTestDatabase,
  createTestTopics,
  freePort,
  startSimulatorProcess,
  TopicRecorder,
  waitFor,
  TEST_BROKERS,
  type SimulatorProcess,
  type TestDatabase,
} from '@asana-stream/testing';

const REPO_ROOT = resolve(__dirname, '../../../..');
const VANISHED = '1299999999999999';

interface StreamRow {
  last_resync_at: Date | null;
  resync_requested_at: Date | null;
  repairs_missing: string;
  repairs_stale: string;
  repairs_vanished: string;
}

/**
 * The enricher as deployed resyncing a watched project against the simulator: the first read of
 * the project's Events API asks for a resync, which lists the project's tasks, compares each with
 * the projection, and sends every correction through `asana.events` (missing, stale, vanished).
 */
describe('the resync of a watched project (enricher process, real Kafka and Postgres, simulated Asana)', () => {
  let names: TopicNames;
  let db: TestDatabase;
  let sim: SimulatorProcess;
  let pg: Client;
  let enricher: AppProcess | undefined;
  let recorder: TopicRecorder | undefined;
  const logDir = join(REPO_ROOT, '.local/test-processes', `resync-${randomBytes(3).toString('hex')}`);

  beforeAll(async () => {
    [names, db] = await Promise.all([createTestTopics(), createTestDatabase()]);
    sim = await startSimulatorProcess({ SIM_RATE_LIMIT_REQUESTS: '0', SIM_SEED_TASKS_PER_PROJECT: '6' }, logDir);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await recorder?.stop();
    await enricher?.stop();
    await pg?.end();
    await sim?.stop();
    await db?.drop();
  });

  const stream = async (resource: string): Promise<StreamRow> =>
    (await pg.query<StreamRow>('SELECT * FROM event_streams WHERE resource_gid = $1', [resource])).rows[0];

  async function modifiedAt(gid: string): Promise<number> {
    const response = await fetch(`${sim.apiUrl}/tasks/${gid}?opt_fields=modified_at`, {
      headers: { authorization: `Bearer ${sim.token}` },
    });
    return Date.parse(((await response.json()) as { data: { modified_at: string } }).data.modified_at);
  }

  it('corrects what Postgres lacks, holds older, or holds though Asana no longer lists it; again on request', async () => {
    const state = (await (await fetch(`${sim.baseUrl}/_sim/state`)).json()) as {
      data: { projects: { gid: string }[] };
    };
    const project = state.data.projects[0].gid;
    const [current, stale, ...missing] = await sim.firstProjectTaskGids();
    expect(missing.length).toBe(4);
    await pg.query(
      `INSERT INTO subscriptions (id, resource_gid, target_url, status, secret) VALUES ($1, $2, 'http://ingest/x', 'active', 's')`,
      [randomUUID(), project],
    );
    const projected = (gid: string, version: number) =>
      pg.query(`INSERT INTO tasks (gid, state, version, updated_at) VALUES ($1, $2, $3, now())`, [
        gid,
        JSON.stringify({ gid, projects: [{ gid: project, name: 'P' }] }),
        version,
      ]);
    await projected(current, await modifiedAt(current));
    await projected(stale, 1);
    await projected(VANISHED, 1);

    recorder = await new TopicRecorder([names.physical(TOPICS.events.name), names.physical(TOPICS.state.name)]).start();
    enricher = await new AppProcess({
      app: 'enricher',
      port: await freePort(),
      logDir,
      env: {
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: names.prefix,
        DATABASE_URL: db.url,
        ASANA_BASE_URL: sim.apiUrl,
        ASANA_TOKEN: sim.token,
        EVENTS_POLL_INTERVAL_MS: '200',
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
    }).start();

    // The follower's first 412 asks for the resync; the enricher runs it on its own.
    const first = await waitFor('the first resync to finish', async () => {
      const row = await stream(project);
      return row?.last_resync_at ? row : undefined;
    });
    expect(first.resync_requested_at).toBeNull();
    // The project itself and four tasks missing, one stale, one vanished; the current one untouched.
    expect([first.repairs_missing, first.repairs_stale, first.repairs_vanished].map(Number)).toEqual([5, 1, 1]);
    // The same counts on the enricher's /metrics, with its requests to Asana by purpose.
    const metrics = parseExposition(await (await fetch(`${enricher.url}/metrics`)).text());
    expect(
      ['missing', 'stale', 'vanished'].map((cause) => sumOf(metrics, 'asana_stream_resync_repairs_total', { cause })),
    ).toEqual([5, 1, 1]);
    expect(sumOf(metrics, 'asana_stream_resyncs_total', { outcome: 'done' })).toBe(1);
    // The project and one page of its tasks.
    expect(sumOf(metrics, 'asana_stream_asana_requests_total', { purpose: 'resync', outcome: 'ok' })).toBe(2);
    expect(sumOf(metrics, 'asana_stream_events_api_restarts_total', { reason: 'first_read' })).toBe(1);

    const eventsTopic = names.physical(TOPICS.events.name);
    const stateTopic = names.physical(TOPICS.state.name);
    const repairs = () =>
      recorder!.messages
        .filter((m) => m.topic === eventsTopic)
        .map((m) => m.value as AsanaEventEnvelope)
        .filter((e) => e.source === 'resync');
    await waitFor('the repairs recorded', () => repairs().length >= 7);
    expect(
      repairs()
        .map((e) => e.event.resource.gid)
        .sort(),
    ).toEqual([project, stale, ...missing, VANISHED].sort());
    // Through the normal path: the enricher fetches each; the vanished one is a tombstone.
    const states = await waitFor('the corrected states', () => {
      const byGid = new Map(
        recorder!.messages
          .filter((m) => m.topic === stateTopic)
          .map((m) => m.value as ResourceStateMessage)
          .map((s) => [s.gid, s]),
      );
      return [project, stale, ...missing, VANISHED].every((gid) => byGid.has(gid)) ? byGid : undefined;
    });
    expect(states.get(VANISHED)).toMatchObject({ deleted: true, state: null });
    for (const gid of [stale, ...missing]) expect(states.get(gid)).toMatchObject({ deleted: false, type: 'task' });
    expect(states.get(project)).toMatchObject({ deleted: false, type: 'project' });
    expect(states.has(current)).toBe(false);

    // An operator asks for another: it runs, and (nothing projected meanwhile) repairs the same again.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(REPO_ROOT, 'dist/apps/cli/src/main.js'), 'reconcile', '--resource', project],
      {
        env: {
          PATH: process.env.PATH ?? '',
          DATABASE_URL: db.url,
          KAFKA_BROKERS: TEST_BROKERS,
          KAFKA_TOPIC_PREFIX: names.prefix,
          ASANA_TOKEN: 'unused',
        },
      },
    );
    expect(stdout).toContain(`resync of ${project} asked for: the enricher runs it next`);
    const second = await waitFor('the second resync to finish', async () => {
      const row = await stream(project);
      return row.last_resync_at! > first.last_resync_at! && row.resync_requested_at === null ? row : undefined;
    });
    expect([second.repairs_missing, second.repairs_stale, second.repairs_vanished].map(Number)).toEqual([10, 2, 2]);
  });
});
