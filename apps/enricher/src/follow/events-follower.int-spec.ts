import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { TOPICS, type AsanaEventEnvelope, type ResourceStateMessage, type TopicNames } from '@asana-stream/contracts';
import { parseExposition, sumOf } from '@asana-stream/metrics';
import {
  AppProcess,
  createTestDatabase,
  createTestTopics,
  freePort,
  runCli,
  startSimulatorProcess,
  stoppedCleanly,
  TopicRecorder,
  waitFor,
  TEST_BROKERS,
  type SimulatorProcess,
  type TestDatabase,
} from '@asana-stream/testing';
import { NOT_FOLLOWED_REASON } from './events-follower.service';
import { EXPIRED_REASON, FIRST_READ_REASON } from './follow-events';

const REPO_ROOT = resolve(__dirname, '../../../..');

interface StreamRow {
  last_resync_at: Date | null;
  last_polled_at: Date | null;
  polls_failed: number;
  last_error: string | null;
  sync_token: string | null;
  events_read: string;
  events_published: string;
  resync_requested_at: Date | null;
  resync_reason: string | null;
  leased_by: string | null;
}

/**
 * The enricher as deployed (its production entrypoint), following the simulator's Events API for
 * a subscription whose webhook delivers nothing at all: what the webhook lost reaches
 * `asana.events` and `asana.state` all the same, and only what the projection lacks.
 */
describe('the Events API follower (enricher process, real Kafka and Postgres, simulated Asana)', () => {
  let names: TopicNames;
  let db: TestDatabase;
  let sim: SimulatorProcess;
  let pg: Client;
  let enricher: AppProcess | undefined;
  let recorder: TopicRecorder | undefined;
  const logDir = join(REPO_ROOT, '.local/test-processes', `events-follower-${randomBytes(3).toString('hex')}`);

  beforeAll(async () => {
    [names, db] = await Promise.all([createTestTopics(), createTestDatabase()]);
    sim = await startSimulatorProcess({ SIM_RATE_LIMIT_REQUESTS: '0' }, logDir);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  /** What a test started beside the processes, stopped after them. */
  const onCleanup: (() => Promise<void>)[] = [];

  // A test that failed midway leaves its enricher running: stopped here, so the next test's
  // enricher is the only one on the shared database.
  afterEach(async () => {
    await enricher?.stop();
    enricher = undefined;
  });

  afterAll(async () => {
    await recorder?.stop();
    await enricher?.stop();
    await pg?.end();
    await sim?.stop();
    for (const cleanup of onCleanup) await cleanup();
    await db?.drop();
  });

  /** The reasons of the resyncs the enricher started, from its log, in order. */
  const resyncReasons = () =>
    readFileSync(enricher!.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"resync started"'))
      .map((line) => (JSON.parse(line) as { message: { reason: string } }).message.reason);

  const stream = async (resource: string): Promise<StreamRow | undefined> =>
    (await pg.query<StreamRow>('SELECT * FROM event_streams WHERE resource_gid = $1', [resource])).rows[0];

  async function asanaCall<T>(method: string, path: string, data: unknown): Promise<T> {
    const response = await fetch(`${sim.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data }),
    });
    if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${await response.text()}`);
    return ((await response.json()) as { data: T }).data;
  }

  const renameTask = (gid: string, name: string) => asanaCall('PUT', `/tasks/${gid}`, { name });

  const enricherEnv = () => ({
    KAFKA_BROKERS: TEST_BROKERS,
    KAFKA_TOPIC_PREFIX: names.prefix,
    DATABASE_URL: db.url,
    ASANA_BASE_URL: sim.apiUrl,
    ASANA_TOKEN: sim.token,
    EVENTS_POLL_INTERVAL_MS: '200',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  });

  /** The enricher's log lines (JSON), each line's `message`. */
  const logged = () =>
    readFileSync(enricher!.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { message: Record<string, unknown> }).message);

  it('reads what the webhook lost (comments and sections too), publishes only what the projection lacks, and restarts on an expired token', async () => {
    const state = (await (await fetch(`${sim.baseUrl}/_sim/state`)).json()) as {
      data: { projects: { gid: string }[] };
    };
    const project = state.data.projects[0].gid;
    const [reflected, lostA, lostB] = await sim.firstProjectTaskGids();
    // A subscription on the project whose webhook (as far as this test goes) delivers nothing.
    await pg.query(
      `INSERT INTO subscriptions (id, resource_gid, target_url, status, secret) VALUES ($1, $2, 'http://ingest/x', 'active', 's')`,
      [randomUUID(), project],
    );
    // The projection already holds a newer state of one task than any change made below.
    await pg.query(`INSERT INTO tasks (gid, state, version, updated_at) VALUES ($1, $2, $3, now())`, [
      reflected,
      JSON.stringify({ gid: reflected }),
      Date.parse('2100-01-01T00:00:00Z'),
    ]);

    recorder = await new TopicRecorder([names.physical(TOPICS.events.name), names.physical(TOPICS.state.name)]).start();
    enricher = await new AppProcess({ app: 'enricher', port: await freePort(), logDir, env: enricherEnv() }).start();

    // The first read: Asana answers 412 with the token to start from, and the resync it asks for runs.
    await waitFor('the first sync token, and the resync it asked for', async () => {
      const row = await stream(project);
      return row?.sync_token && row.last_resync_at ? row : undefined;
    });
    expect(resyncReasons()).toEqual([FIRST_READ_REASON]);

    for (const gid of [reflected, lostA, lostB]) await renameTask(gid, `renamed ${gid}`);

    const eventsTopic = names.physical(TOPICS.events.name);
    const stateTopic = names.physical(TOPICS.state.name);
    const fromEventsApi = () =>
      recorder!.messages
        .filter((m) => m.topic === eventsTopic)
        .map((m) => m.value as AsanaEventEnvelope)
        .filter((e) => e.source === 'events-api');
    await waitFor('the lost changes enriched into asana.state', () => {
      const states = recorder!.messages
        .filter((m) => m.topic === stateTopic)
        .map((m) => m.value as ResourceStateMessage);
      const names = new Map(states.map((s) => [s.gid, s.state?.name]));
      return names.get(lostA) === `renamed ${lostA}` && names.get(lostB) === `renamed ${lostB}` ? true : undefined;
    });
    const published = fromEventsApi();
    expect(new Set(published.map((e) => e.event.resource.gid))).toEqual(new Set([lostA, lostB]));
    for (const envelope of published) {
      expect(envelope).toMatchObject({ subscriptionId: null, deliveryId: null, event: { action: 'changed' } });
    }
    // Every message is keyed by its resource, so a gid keeps its order with webhook events.
    for (const message of recorder.messages.filter((m) => m.topic === eventsTopic)) {
      expect(message.key).toBe((message.value as AsanaEventEnvelope).event.resource.gid);
    }
    const after = await waitFor('the read counted', async () => {
      const row = await stream(project);
      return row && Number(row.events_published) === published.length ? row : undefined;
    });
    // The reflected task's event was read, but not published.
    expect(Number(after.events_read)).toBeGreaterThan(Number(after.events_published));
    const metrics = parseExposition(await (await fetch(`${enricher.url}/metrics`)).text());
    expect(sumOf(metrics, 'asana_stream_events_api_events_total', { outcome: 'published' })).toBe(published.length);
    expect(sumOf(metrics, 'asana_stream_events_api_events_total', { outcome: 'reflected' })).toBeGreaterThan(0);
    expect(sumOf(metrics, 'asana_stream_asana_requests_total', { purpose: 'events', outcome: 'ok' })).toBeGreaterThan(
      1,
    );

    // A comment and a section, whose events reach the project's Events API, become live states:
    // the enricher fetches stories and sections like any resource.
    const comment = await asanaCall<{ gid: string }>('POST', `/tasks/${lostA}/stories`, { text: 'ship it' });
    const section = await asanaCall<{ gid: string }>('POST', `/projects/${project}/sections`, { name: 'Later' });
    const live = await waitFor('the comment and the section in asana.state', () => {
      const states = recorder!.messages
        .filter((m) => m.topic === stateTopic)
        .map((m) => m.value as ResourceStateMessage);
      const story = states.find((s) => s.gid === comment.gid);
      const sectionState = states.find((s) => s.gid === section.gid);
      return story && sectionState ? { story, section: sectionState } : undefined;
    });
    expect(live.story).toMatchObject({ type: 'story', deleted: false, state: { text: 'ship it' } });
    expect(live.section).toMatchObject({ type: 'section', deleted: false, state: { name: 'Later' } });

    // Asana forgets the token: the follower starts over from a fresh one, and a resync runs again.
    const before = (await stream(project))!;
    const expire = await fetch(`${sim.baseUrl}/_sim/events/expire-sync-tokens`, { method: 'POST' });
    expect(expire.ok).toBe(true);
    const restarted = await waitFor('a resync after the 412', async () => {
      const row = await stream(project);
      return row && row.last_resync_at! > before.last_resync_at! && row.resync_requested_at === null ? row : undefined;
    });
    expect(restarted.sync_token).not.toBe(before.sync_token);
    expect(resyncReasons()).toEqual([FIRST_READ_REASON, EXPIRED_REASON]);

    // Shutdown ends the follower's loop with the rest of the app, well within Kubernetes' 30 s.
    const exit = await enricher.stop();
    expect(stoppedCleanly(exit)).toBe(true);
    enricher = undefined;
  });
  it("polls only the types Asana's Events API takes: a workspace (its type learnt from its webhook) is not followed, no request, no error; a project still is", async () => {
    const state = (await (await fetch(`${sim.baseUrl}/_sim/state`)).json()) as {
      data: { projects: { gid: string }[] };
    };
    const project = state.data.projects[1].gid;
    const workspace = (await (
      await fetch(`${sim.apiUrl}/workspaces`, { headers: { authorization: `Bearer ${sim.token}` } })
    ).json()) as {
      data: { gid: string }[];
    };
    const workspaceGid = workspace.data[0].gid;
    // Asana answers 400 to `GET /events?resource=<a workspace>`, as the simulator does.
    const refused = await fetch(`${sim.apiUrl}/events?resource=${workspaceGid}`, {
      headers: { authorization: `Bearer ${sim.token}` },
    });
    expect(refused.status).toBe(400);
    // A real webhook on the workspace (its handshake and deliveries answered by a bare receiver,
    // so that it stays healthy), for a subscription made before types were kept: the follower
    // learns the type from it, as the resync does.
    const receiver = createServer((req, res) => {
      res.writeHead(200, { 'x-hook-secret': req.headers['x-hook-secret'] ?? '' }).end();
    });
    await new Promise<void>((listening) => receiver.listen(0, '127.0.0.1', listening));
    onCleanup.push(() => new Promise<void>((closed) => receiver.close(() => closed())));
    const webhook = await asanaCall<{ gid: string }>('POST', '/webhooks', {
      resource: workspaceGid,
      target: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      filters: [{ resource_type: 'project', action: 'added' }],
    });
    await pg.query(
      `INSERT INTO subscriptions (id, resource_gid, webhook_gid, target_url, status, secret) VALUES ($1, $2, $3, 'http://ingest/x', 'active', 's')`,
      [randomUUID(), workspaceGid, webhook.gid],
    );
    await pg.query(
      `INSERT INTO subscriptions (id, resource_gid, resource_type, target_url, status, secret) VALUES ($1, $2, 'project', 'http://ingest/x', 'active', 's')`,
      [randomUUID(), project],
    );
    // What a version that polled every type left: the workspace's stream failing, backing off.
    await pg.query(
      `INSERT INTO event_streams (resource_gid, polls_failed, last_error, last_polled_at) VALUES ($1, 7, 'REJECTED: Asana answered 400', now())`,
      [workspaceGid],
    );
    const lastPolled = (await stream(workspaceGid))!.last_polled_at;

    enricher = await new AppProcess({ app: 'enricher', port: await freePort(), logDir, env: enricherEnv() }).start();

    // The project: its first read (a 412), the resync it asks for, then polls every 200 ms.
    const first = await waitFor("the project's first sync token, and its resync", async () => {
      const row = await stream(project);
      return row?.sync_token && row.last_resync_at ? row : undefined;
    });
    await waitFor('the project polled again since', async () => {
      const row = await stream(project);
      return row && row.last_polled_at! > first.last_polled_at! ? row : undefined;
    });
    // The workspace: its first resync (its projects) asked for in place of a 412, and run.
    const settled = await waitFor("the workspace's first resync", async () => {
      const row = await stream(workspaceGid);
      return row?.last_resync_at ? row : undefined;
    });
    expect(resyncReasons()).toContain(NOT_FOLLOWED_REASON);
    // ...while it was never polled: no token, no poll since the old version's, its failure forgotten.
    expect(settled).toMatchObject({ sync_token: null, polls_failed: 0, last_error: null, leased_by: null });
    expect(settled.last_polled_at).toEqual(lastPolled);
    // Its type learnt from its webhook, and kept.
    const kept = await pg.query<{ resource_type: string | null }>(
      'SELECT resource_type FROM subscriptions WHERE resource_gid = $1',
      [workspaceGid],
    );
    expect(kept.rows).toEqual([{ resource_type: 'workspace' }]);

    // Said once, and not one failed poll in the log or the metrics.
    const said = logged().filter((m) => m.msg === 'not following the Events API for this resource');
    expect(said).toEqual([
      expect.objectContaining({ resourceGid: workspaceGid, resourceType: 'workspace', resyncRequested: true }),
    ]);
    expect(logged().filter((m) => m.resourceGid === workspaceGid && /failed/.test(String(m.msg)))).toEqual([]);
    const metrics = parseExposition(await (await fetch(`${enricher.url}/metrics`)).text());
    const eventsRequests = sumOf(metrics, 'asana_stream_asana_requests_total', { purpose: 'events' });
    expect(eventsRequests).toBeGreaterThan(1);
    expect(sumOf(metrics, 'asana_stream_asana_requests_total', { purpose: 'events', outcome: 'ok' })).toBe(
      eventsRequests,
    );

    // `status` shows it as not followed, and nothing failing.
    const status = await runCli(
      { DATABASE_URL: db.url, KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix },
      ['status', '--json'],
    );
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { eventsApi: unknown }).eventsApi).toMatchObject({
      failing: 0,
      notFollowed: { workspace: 1 },
    });
    const line = await runCli({ DATABASE_URL: db.url, KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix }, [
      'status',
    ]);
    expect(line.stdout).toMatch(/events api: \d+ followed, \d+ of \d+ events published, not followed: workspace 1 \|/);

    const exit = await enricher.stop();
    expect(stoppedCleanly(exit)).toBe(true);
    enricher = undefined;
  });
});
