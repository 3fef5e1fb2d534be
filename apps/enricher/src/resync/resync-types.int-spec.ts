import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
/** Held live by the projection, unknown to Asana. */
const VANISHED_STORY = '1299999999999991';
const VANISHED_PROJECT = '1299999999999992';
/** A watched resource of a type with no resync (a goal), which Asana does not show here either. */
const GOAL = '1299999999999993';

interface StreamRow {
  last_resync_at: Date | null;
  resync_requested_at: Date | null;
  repairs_missing: string;
  repairs_stale: string;
  repairs_vanished: string;
}

/**
 * The enricher as deployed resyncing watched resources that are not projects, against the
 * simulator: each is resynced as its subscription's `resource_type` says (a task: itself, its
 * subtasks and stories; a workspace: its projects; a goal: nothing), and no repair or tombstone is
 * ever typed `project` for a resource that is not one.
 */
describe('the resync of watched tasks, workspaces and other types (enricher process, real Kafka and Postgres, simulated Asana)', () => {
  let names: TopicNames;
  let db: TestDatabase;
  let sim: SimulatorProcess;
  let pg: Client;
  let enricher: AppProcess | undefined;
  let recorder: TopicRecorder | undefined;
  /** Answers the simulator's webhook handshakes (echoing X-Hook-Secret) and deliveries. */
  let receiver: Server;
  const logDir = join(REPO_ROOT, '.local/test-processes', `resync-types-${randomBytes(3).toString('hex')}`);

  beforeAll(async () => {
    [names, db] = await Promise.all([createTestTopics(), createTestDatabase()]);
    sim = await startSimulatorProcess({ SIM_RATE_LIMIT_REQUESTS: '0', SIM_SEED_TASKS_PER_PROJECT: '2' }, logDir);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    receiver = createServer((request, response) => {
      const secret = request.headers['x-hook-secret'];
      response.writeHead(200, typeof secret === 'string' ? { 'X-Hook-Secret': secret } : {}).end();
    });
    await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', listening));
  });

  afterAll(async () => {
    await recorder?.stop();
    await enricher?.stop();
    await pg?.end();
    await sim?.stop();
    await new Promise((closed) => receiver?.close(closed));
    await db?.drop();
  });

  async function asana<T>(method: string, path: string, data?: unknown): Promise<T> {
    const response = await fetch(`${sim.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
      body: data === undefined ? undefined : JSON.stringify({ data }),
    });
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}`);
    return ((await response.json()) as { data: T }).data;
  }
  const modifiedAt = async (path: string) =>
    Date.parse((await asana<{ modified_at: string }>('GET', path)).modified_at);

  /**
   * A subscription on the resource, typed (or not, as one made before types were kept, with its
   * webhook), and a resync asked for it (as a 412 or `reconcile` would).
   */
  async function watch(resourceGid: string, resourceType: string | null, webhookGid: string | null = null) {
    await pg.query(
      `INSERT INTO subscriptions (id, resource_gid, resource_type, webhook_gid, target_url, status, secret)
       VALUES ($1, $2, $3, $4, 'http://ingest/x', 'active', 's')`,
      [randomUUID(), resourceGid, resourceType, webhookGid],
    );
    await pg.query(
      `INSERT INTO event_streams (resource_gid, resync_requested_at, resync_reason) VALUES ($1, now(), 'test')`,
      [resourceGid],
    );
  }
  /** A row the projection holds, taken a minute ago (before any resync started). */
  const projected = (table: 'tasks' | 'projects' | 'resources', gid: string, state: object, version: number) =>
    pg.query(
      table === 'resources'
        ? `INSERT INTO resources (gid, type, state, version, updated_at) VALUES ($1, 'story', $2, $3, now() - interval '1 minute')`
        : table === 'projects'
          ? `INSERT INTO projects (gid, state, version, workspace_gid, updated_at) VALUES ($1, $2, $3, $2::jsonb->'workspace'->>'gid', now() - interval '1 minute')`
          : `INSERT INTO tasks (gid, state, version, updated_at) VALUES ($1, $2, $3, now() - interval '1 minute')`,
      [gid, JSON.stringify({ gid, ...state }), version],
    );
  const stream = async (resource: string): Promise<StreamRow> =>
    (await pg.query<StreamRow>('SELECT * FROM event_streams WHERE resource_gid = $1', [resource])).rows[0];

  it('repairs a task’s subtasks and stories, a workspace’s projects, tombstones a task Asana no longer shows, and leaves a goal alone', async () => {
    const state = (await (await fetch(`${sim.baseUrl}/_sim/state`)).json()) as {
      data: { projects: { gid: string }[] };
    };
    const [project, otherProject] = state.data.projects.map((p) => p.gid);
    const workspace = (await asana<{ gid: string }[]>('GET', '/workspaces'))[0].gid;

    // A watched task with three subtasks (one missing from Postgres, one stale, one current), one
    // deleted in Asana that Postgres still holds live, comments Postgres lacks, and one it holds
    // that Asana no longer lists.
    const task = (await asana<{ gid: string }>('POST', '/tasks', { name: 'Watched', projects: [project] })).gid;
    const sub = async (name: string) => (await asana<{ gid: string }>('POST', `/tasks/${task}/subtasks`, { name })).gid;
    const [subMissing, subStale, subCurrent, subDeleted] = [
      await sub('missing'),
      await sub('stale'),
      await sub('current'),
      await sub('deleted'),
    ];
    await asana('DELETE', `/tasks/${subDeleted}`);
    const comment = (await asana<{ gid: string }>('POST', `/tasks/${task}/stories`, { text: 'lost' })).gid;
    await projected('tasks', task, { projects: [{ gid: project }] }, await modifiedAt(`/tasks/${task}`));
    await projected('tasks', subStale, { parent: { gid: task } }, 1);
    await projected('tasks', subCurrent, { parent: { gid: task } }, await modifiedAt(`/tasks/${subCurrent}`));
    await projected('tasks', subDeleted, { parent: { gid: task } }, 1);
    await projected('resources', VANISHED_STORY, { target: { gid: task, resource_type: 'task' } }, 1);

    // A task Asana no longer shows, that Postgres holds live.
    const gone = (await asana<{ gid: string }>('POST', '/tasks', { name: 'Gone', projects: [project] })).gid;
    await asana('DELETE', `/tasks/${gone}`);
    await projected('tasks', gone, { projects: [{ gid: project }] }, 1);

    // The workspace: one project stale, one current, one Postgres holds that Asana does not list.
    await projected('projects', project, { workspace: { gid: workspace } }, 1);
    await projected(
      'projects',
      otherProject,
      { workspace: { gid: workspace } },
      await modifiedAt(`/projects/${otherProject}`),
    );
    await projected('projects', VANISHED_PROJECT, { workspace: { gid: workspace } }, 1);

    // A task watched since before types were kept: its type is learnt from its webhook in Asana.
    const untyped = (await asana<{ gid: string }>('POST', '/tasks', { name: 'Untyped', projects: [project] })).gid;
    const untypedSub = (await asana<{ gid: string }>('POST', `/tasks/${untyped}/subtasks`, { name: 'lacked' })).gid;
    const { port } = receiver.address() as AddressInfo;
    const webhook = await asana<{ gid: string }>('POST', '/webhooks', {
      resource: untyped,
      target: `http://127.0.0.1:${port}/hook`,
    });
    await watch(untyped, null, webhook.gid);

    await watch(task, 'task');
    await watch(gone, 'task');
    await watch(workspace, 'workspace');
    await watch(GOAL, 'goal');

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
        RESYNC_SWEEP_INTERVAL_MS: '1000',
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
    }).start();

    for (const resource of [task, gone, workspace, GOAL, untyped]) {
      await waitFor(`the resync of ${resource} to finish`, async () => {
        const row = await stream(resource);
        return row?.last_resync_at ? row : undefined;
      });
    }

    const eventsTopic = names.physical(TOPICS.events.name);
    const stateTopic = names.physical(TOPICS.state.name);
    const repairs = () =>
      recorder!.messages
        .filter((m) => m.topic === eventsTopic)
        .map((m) => m.value as AsanaEventEnvelope)
        .filter((e) => e.source === 'resync');
    const typeOf = (gid: string) => [
      ...new Set(
        repairs()
          .filter((e) => e.event.resource.gid === gid)
          .map((e) => e.event.resource.resource_type),
      ),
    ];
    const expected: [string, string][] = [
      [subMissing, 'task'],
      [subStale, 'task'],
      [subDeleted, 'task'],
      [comment, 'story'],
      [VANISHED_STORY, 'story'],
      [gone, 'task'],
      [untypedSub, 'task'],
      [project, 'project'],
      [VANISHED_PROJECT, 'project'],
    ];
    await waitFor('the repairs recorded', () => expected.every(([gid]) => typeOf(gid).length > 0) || undefined);
    for (const [gid, type] of expected) expect({ gid, types: typeOf(gid) }).toEqual({ gid, types: [type] });
    // What is current is left alone; the goal is neither listed nor repaired.
    for (const gid of [task, subCurrent, otherProject, GOAL])
      expect({ gid, types: typeOf(gid) }).toEqual({ gid, types: [] });
    // Nothing typed project but the workspace's projects (every other one of the simulator's was missing).
    const typedProject = new Set(
      repairs()
        .filter((e) => e.event.resource.resource_type === 'project')
        .map((e) => e.event.resource.gid),
    );
    const missingProjects = state.data.projects.map((p) => p.gid).filter((gid) => gid !== otherProject);
    expect(typedProject).toEqual(new Set([...missingProjects, VANISHED_PROJECT]));

    // Through the normal path: the vanished and the gone become tombstones of their own type.
    const states = await waitFor('the corrected states', () => {
      const byGid = new Map(
        recorder!.messages
          .filter((m) => m.topic === stateTopic)
          .map((m) => m.value as ResourceStateMessage)
          .map((s) => [s.gid, s]),
      );
      return expected.every(([gid]) => byGid.has(gid)) ? byGid : undefined;
    });
    expect(states.get(gone)).toMatchObject({ type: 'task', deleted: true, state: null });
    expect(states.get(subDeleted)).toMatchObject({ type: 'task', deleted: true });
    expect(states.get(VANISHED_STORY)).toMatchObject({ type: 'story', deleted: true });
    expect(states.get(VANISHED_PROJECT)).toMatchObject({ type: 'project', deleted: true });
    for (const gid of [subMissing, subStale]) expect(states.get(gid)).toMatchObject({ type: 'task', deleted: false });
    expect(states.get(comment)).toMatchObject({ type: 'story', deleted: false });
    expect(states.get(project)).toMatchObject({ type: 'project', deleted: false });
    expect(states.has(GOAL)).toBe(false);

    // The goal's resync ended with nothing repaired, and says so.
    const goal = await stream(GOAL);
    expect([goal.repairs_missing, goal.repairs_stale, goal.repairs_vanished].map(Number)).toEqual([0, 0, 0]);
    expect(goal.resync_requested_at).toBeNull();
    const metrics = parseExposition(await (await fetch(`${enricher.url}/metrics`)).text());
    expect(sumOf(metrics, 'asana_stream_resyncs_total', { outcome: 'skipped' })).toBeGreaterThanOrEqual(1);

    // The operator sees it.
    const status = async (...args: string[]) =>
      (
        await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'dist/apps/cli/src/main.js'), 'status', ...args], {
          env: {
            PATH: process.env.PATH ?? '',
            DATABASE_URL: db.url,
            KAFKA_BROKERS: TEST_BROKERS,
            KAFKA_TOPIC_PREFIX: names.prefix,
            ASANA_TOKEN: 'unused',
          },
        })
      ).stdout;
    expect(JSON.parse(await status('--json'))).toMatchObject({ resync: { withoutResync: { goal: 1 } } });
    expect(await status()).toContain('without resync: goal 1');

    // The untyped subscription now says what it watches.
    const kept = await pg.query<{ resource_type: string | null }>(
      'SELECT resource_type FROM subscriptions WHERE resource_gid = $1',
      [untyped],
    );
    expect(kept.rows).toEqual([{ resource_type: 'task' }]);

    // Light sweeps: the watched tasks' (one request each) run; the workspace's and the goal's are skipped.
    const swept = await waitFor('light sweeps of each kind', async () => {
      const scraped = parseExposition(await (await fetch(`${enricher!.url}/metrics`)).text());
      const done = sumOf(scraped, 'asana_stream_resync_sweeps_total', { outcome: 'done' });
      const skipped = sumOf(scraped, 'asana_stream_resync_sweeps_total', { outcome: 'skipped' });
      return done >= 2 && skipped >= 2 ? scraped : undefined;
    });
    expect(sumOf(swept, 'asana_stream_resync_sweeps_total', { outcome: 'failed' })).toBe(0);
    // Still nothing typed project for a resource that is not one.
    for (const gid of [task, gone, untyped, GOAL, workspace]) {
      expect(
        repairs().filter((e) => e.event.resource.gid === gid && e.event.resource.resource_type === 'project'),
      ).toEqual([]);
    }
  });
});
