import { join, resolve } from 'node:path';
import type { TopicNames } from '@asana-stream/contracts';
import type { ResourceLookup } from '@asana-stream/lookup';
import {
  AppProcess,
  createTestDatabase,
  createTestTopics,
  freePort,
  runCli,
  seedLookupFixture,
  stoppedCleanly,
  TEST_BROKERS,
  uniqueGid,
  type LookupFixture,
  type TestDatabase,
} from '@asana-stream/testing';

const REPO_ROOT = resolve(__dirname, '../../../..');
// Each case runs the cli as a process (node's startup included), on a machine others share.
jest.setTimeout(180_000);

/**
 * `asana-stream lookup` and fanout's `GET /lookup/:gid` as operators use them: the cli and the
 * fanout as real processes (`npm run build` first) over real Kafka and Postgres.
 */
describe('lookup by gid: the cli command and the fanout endpoint', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let fixture: LookupFixture;
  let env: Record<string, string>;
  let fanout: AppProcess;

  const lookupCli = (...args: string[]) => runCli(env, ['lookup', ...args]);
  const lookupHttp = (gid: string, headers: Record<string, string> = {}) =>
    fetch(`${fanout.url}/lookup/${encodeURIComponent(gid)}`, { headers });

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    fixture = await seedLookupFixture(db, names);
    env = { DATABASE_URL: db.url, KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix };
    fanout = await new AppProcess({
      app: 'fanout',
      port: await freePort(),
      logDir: join(REPO_ROOT, '.local/int', `lookup-${names.prefix}`),
      env: { ...env, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
    }).start();
  }, 90_000);

  afterAll(async () => {
    const exit = await fanout?.stop();
    await db?.drop();
    if (exit) expect(stoppedCleanly(exit)).toBe(true);
  });

  it('lists the projection row, the outbox changes, the dead letters and the events with their trace ids', async () => {
    const run = await lookupCli(fixture.gid);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const text = run.stdout;
    expect(text).toContain(`gid ${fixture.gid}`);
    expect(text).toMatch(
      /events on asana\.events \(asana\.events partition \d+: offsets \d+\.\.\d+ \(all it keeps\)\): 3/,
    );
    for (const event of fixture.events) {
      expect(text).toContain(`changed ${event.field}  source webhook  subscription ${event.subscriptionId}`);
      expect(text).toContain(`delivery ${event.deliveryId}  trace ${event.traceId}`);
    }
    expect(text).toContain('dead letters: 2');
    for (const dead of fixture.deadLetters)
      expect(text).toMatch(new RegExp(`${dead.topic} \\d+:\\d+  PENDING  ${dead.code} `));
    expect(text).toMatch(/projection rows: 1\n {2}tasks \(task\) {2}version 1764000000000 {2}live/);
    expect(text).toContain('outbox changes: 3');
    expect(text).toContain(`${fixture.outbox.published}  updated name  version 1  PUBLISHED`);
    expect(text).toContain(`${fixture.outbox.parked}  updated name  version 2  PARKED`);
    expect(text).toContain(`${fixture.outbox.pending}  updated name  version 3  PENDING`);
    expect(text).toContain(`trace ${fixture.outboxTraceId}`);
  });

  it('answers GET /lookup/:gid with exactly what `lookup --json` prints', async () => {
    const [run, response] = await Promise.all([lookupCli(fixture.gid, '--json'), lookupHttp(fixture.gid)]);

    expect(run.code).toBe(0);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const fromCli = JSON.parse(run.stdout) as ResourceLookup;
    expect(await response.json()).toEqual(fromCli);
    expect(fromCli.events.entries.map((e) => e.traceId)).toEqual(fixture.events.map((e) => e.traceId));
    expect(fromCli.deadLetters.entries).toHaveLength(2);
    expect(fromCli.outbox.rows.map((r) => r.state)).toEqual(['published', 'parked', 'pending']);
  });

  it('says clearly that nothing is known about an unknown gid: exit 1 from the cli, 404 from the fanout', async () => {
    const gid = uniqueGid();
    const [run, json, response] = await Promise.all([lookupCli(gid), lookupCli(gid, '--json'), lookupHttp(gid)]);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      new RegExp(
        `^asana-stream: nothing known about gid ${gid}: no row in tasks, projects or resources, no outbox change, no dead letter and no event \\(asana\\.events partition \\d+: offsets`,
      ),
    );
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ gid, found: false });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual(JSON.parse(json.stdout));
  });

  it('refuses a bad gid with one line from the cli and 400 from the fanout, reading nothing', async () => {
    const [run, response] = await Promise.all([lookupCli('task-12'), lookupHttp('task-12')]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'asana-stream: "task-12" is not an Asana gid: a gid is a string of digits, e.g. 1208000000000001\n',
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      code: 'BAD_GID',
      message: '"task-12" is not an Asana gid: a gid is a string of digits, e.g. 1208000000000001',
    });
  });

  it('refuses a lookup that came through a proxy: the answer holds Asana content and stays inside the cluster', async () => {
    const response = await lookupHttp(fixture.gid, { 'x-forwarded-for': '203.0.113.9' });

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      code: 'FORBIDDEN',
      message: 'lookups are served to callers inside the cluster only, not through a proxy',
    });
  });

  it('documents itself in --help', async () => {
    const run = await runCli({}, ['lookup', '--help']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: asana-stream lookup [options] <gid>');
    expect(run.stdout).toContain('--json');
    expect(run.stdout).toContain('--max-messages <n>');
  });
});
