import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { loadAppConfig } from '@asana-stream/config';
import {
  changeTopic,
  routeTopic,
  type ChangeAction,
  type ResourceChangeMessage,
  type RouteFilter,
  type TopicNames,
} from '@asana-stream/contracts';
import { applyRoutes, createDataSource } from '@asana-stream/db';
import { ensureTopics, KafkaPublisher } from '@asana-stream/kafka';
import { createPipelineApp } from '@asana-stream/runtime';
import {
  createTestDatabase,
  createTestTopics,
  runCli,
  TEST_BROKERS,
  testKafka,
  TopicRecorder,
  totalEndOffset,
  waitFor,
  type ReceivedMessage,
  type TestDatabase,
} from '@asana-stream/testing';
import { FANOUT_APP } from '../fanout.module';
import { PgNotifications } from '../notifications/pg-notifications';
import { RelayOutboxService } from '../relay/relay-outbox.service';
import { RouteTable } from './route-table.service';

let nextGid = 2_300_000;
const freshGid = (): string => String(nextGid++);
const [P1, P2] = ['1200000000000001', '1200000000000002'];

interface Row {
  gid: string;
  type?: string;
  version: number;
  projects?: string[];
  assignee?: string;
  /** The projects before the change, when it moved the task. */
  movedFrom?: string[];
}

/** What the projector writes to `outbox.change`. */
function change(row: Row): Omit<ResourceChangeMessage, 'changeId'> {
  const type = row.type ?? 'task';
  const action: ChangeAction = row.version === 1 ? 'created' : 'updated';
  const projects = (row.projects ?? []).map((gid) => ({ gid, resource_type: 'project' }));
  return {
    schema: 1,
    gid: row.gid,
    type,
    action,
    version: row.version,
    changes: {
      name: { from: `v${row.version - 1}`, to: `v${row.version}` },
      ...(row.movedFrom ? { projects: { from: row.movedFrom.map((gid) => ({ gid })), to: projects } } : {}),
    },
    state: {
      gid: row.gid,
      resource_type: type,
      name: `v${row.version}`,
      ...(type === 'task' ? { projects, assignee: row.assignee ? { gid: row.assignee } : null } : {}),
    },
    causes: [`event-${row.gid}-${row.version}`],
    occurredAt: new Date().toISOString(),
  };
}

describe('routes: a team’s own topic of the changes matching its filter, on a real database and broker', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let sql: Client;
  let dataSource: DataSource;
  let app: INestApplication | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'asana-stream-routes-'));
  const cli = (...args: string[]) => runCli({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix }, args);
  const topicOf = (route: string): string => names.physical(routeTopic(route).name);
  const taskTopic = (): string => names.physical(changeTopic('task').name);
  const projectTopic = (): string => names.physical(changeTopic('project').name);
  /** Inserts each row in its own committed statement, in order; returns their ids. */
  const insert = async (rows: Row[]): Promise<string[]> => {
    const ids: string[] = [];
    for (const row of rows) {
      const result = await sql.query<{ id: string }>(
        /* sql */ `INSERT INTO outbox (gid, type, change) VALUES ($1, $2, $3) RETURNING id`,
        [row.gid, row.type ?? 'task', change(row)],
      );
      ids.push(result.rows[0].id);
    }
    await sql.query(/* sql */ `NOTIFY asana_stream_outbox`);
    return ids;
  };
  const allPublished = () =>
    waitFor('every outbox row to be published', async () => {
      const { rows } = await sql.query<{ n: number }>(
        /* sql */ `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`,
      );
      return rows[0].n === 0;
    });
  const routesFile = (name: string, routes: { name: string; filter: RouteFilter }[]): string => {
    const path = join(dir, name);
    writeFileSync(
      path,
      `routes:\n${routes.map((r) => `  - name: ${r.name}\n    filter: ${JSON.stringify(r.filter)}\n`).join('')}`,
    );
    return path;
  };
  const ids = (messages: ReceivedMessage[]): string[] =>
    messages.map((m) => (m.value as ResourceChangeMessage).changeId);
  /** A topic's messages of one gid in offset order. */
  const ofGid = (messages: ReceivedMessage[], gid: string): ReceivedMessage[] =>
    messages.filter((m) => m.key === gid).sort((a, b) => Number(a.offset) - Number(b.offset));

  /** Rows of the first test, kept for the replay test's window. */
  const first: { ids: string[]; gids: [string, string]; since: string; until: string } = {
    ids: [],
    gids: ['', ''],
    since: '',
    until: '',
  };

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    dataSource = createDataSource(db.url, 4);
    await dataSource.initialize();
  });

  afterAll(async () => {
    await app?.close();
    await dataSource?.destroy();
    await sql?.end();
    await db?.drop();
  });

  it('publishes each row to its type topic and to every route it matches, in one call: exactly the matching changes, per gid in order, on the gid’s partition', async () => {
    const routes = [
      { name: 'p1', filter: { projects: [P1] } },
      { name: 'assigned', filter: { types: ['task'], where: { 'assignee.gid': '42' } } },
    ];
    await ensureTopics(
      testKafka(),
      routes.map((r) => routeTopic(r.name)),
      names,
    );
    await applyRoutes(dataSource, routes);
    const config = loadAppConfig('fanout', { DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix });
    const notifications = new PgNotifications(db.url);
    const table = new RouteTable(dataSource, notifications);
    expect(await table.reload()).toBe(true);
    const publisher = new KafkaPublisher(testKafka('routes-int'));
    await publisher.onModuleInit();
    const relay = new RelayOutboxService(dataSource, publisher, names, config, notifications, table);
    const recorder = await new TopicRecorder([taskTopic(), projectTopic(), topicOf('p1'), topicOf('assigned')]).start();
    try {
      const [a, b, c] = [freshGid(), freshGid(), freshGid()];
      first.gids = [a, b];
      first.since = new Date(Date.now() - 1000).toISOString();
      // Two task gids interleaved, and a project; each row's routes in the comment.
      const rowIds = await insert([
        { gid: a, version: 1, projects: [P1], assignee: '42' }, // p1, assigned
        { gid: b, version: 1, projects: [P2], assignee: '7' }, // none
        { gid: a, version: 2, projects: [P1], assignee: '7' }, // p1
        { gid: b, version: 2, projects: [P1], assignee: '42', movedFrom: [P2] }, // p1, assigned
        { gid: c, type: 'project', version: 1 }, // none
        { gid: a, version: 3, projects: [P2], assignee: '7', movedFrom: [P1] }, // p1 (leaving it)
        { gid: b, version: 3, projects: [P2], assignee: '42' }, // assigned
        { gid: b, version: 4, projects: [P2], assignee: '7' }, // none
        { gid: a, version: 4, projects: [P2], assignee: '42' }, // assigned
      ]);
      first.ids = rowIds;
      let relayed = 0;
      for (let n = await relay.relayBatch(3); n > 0; n = await relay.relayBatch(3)) relayed += n;
      expect(relayed).toBe(9);
      first.until = new Date(Date.now() + 1000).toISOString();
      const on = (topic: string) => recorder.messages.filter((m) => m.topic === topic);
      await waitFor('every message on every topic', () => recorder.messages.length >= 9 + 4 + 4 || undefined);
      await new Promise((resolve) => setTimeout(resolve, 500)); // nothing more arrives
      const expectP1 = [0, 2, 3, 5].map((i) => rowIds[i]);
      const expectAssigned = [0, 3, 6, 8].map((i) => rowIds[i]);
      expect(ids(on(topicOf('p1'))).sort()).toEqual([...expectP1].sort());
      expect(ids(on(topicOf('assigned'))).sort()).toEqual([...expectAssigned].sort());
      expect(ids(on(taskTopic())).sort()).toEqual(rowIds.filter((_, i) => i !== 4).sort());
      expect(ids(on(projectTopic()))).toEqual([rowIds[4]]);
      for (const route of ['p1', 'assigned']) {
        for (const gid of [a, b]) {
          const routed = ofGid(on(topicOf(route)), gid);
          // Per gid, in id order, on the partition the gid has on its type topic, the same message.
          expect(ids(routed)).toEqual([...ids(routed)].sort((x, y) => Number(x) - Number(y)));
          const typed = ofGid(on(taskTopic()), gid);
          for (const message of routed) {
            expect(message.partition).toBe(typed[0].partition);
            expect(message.value).toEqual(typed.find((t) => ids([t])[0] === ids([message])[0])!.value);
          }
        }
      }
      expect(ids(ofGid(on(topicOf('p1')), a))).toEqual([rowIds[0], rowIds[2], rowIds[5]]);
      expect(ids(ofGid(on(topicOf('assigned')), b))).toEqual([rowIds[3], rowIds[6]]);
    } finally {
      await recorder.stop();
      await publisher.onApplicationShutdown();
      await notifications.stop();
    }
  });

  it('applies a route added, changed or deleted with the cli to a running fanout within seconds, without a restart', async () => {
    ({ app } = await createPipelineApp(
      FANOUT_APP,
      { DATABASE_URL: db.url, KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix },
      { logger: false },
    ));
    await app.init();
    const table = app.get(RouteTable);
    const kafka = testKafka();
    const projectsOnly = routesFile('live-1.yaml', [{ name: 'live', filter: { types: ['project'] } }]);

    const dry = await cli('routes', 'apply', '--file', projectsOnly, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`+ create live (${topicOf('live')}, topic to create)`);
    expect(dry.stdout).toContain('- delete assigned');
    expect(dry.stdout).toContain('- delete p1');
    expect(dry.stderr).toContain('Nothing was changed');
    const stored = JSON.parse((await cli('routes', 'list', '--json')).stdout) as { name: string }[];
    expect(stored.map((r) => r.name)).toEqual(['assigned', 'p1']);

    const applied = await cli('routes', 'apply', '--file', projectsOnly);
    expect(applied.code).toBe(0);
    expect(applied.stderr).toContain('routes applied: 1 created, 0 updated, 2 deleted');
    expect(applied.stderr).toContain(topicOf('live'));
    const appliedAt = Date.now();
    await waitFor(
      'fanout to hold the new route',
      () => table.get('live') !== undefined && table.get('p1') === undefined,
      {
        timeoutMs: 10_000,
      },
    );
    expect(Date.now() - appliedAt).toBeLessThan(6000);

    const p1Before = await totalEndOffset(kafka, [topicOf('p1'), topicOf('assigned')]);
    const recorder = await new TopicRecorder([topicOf('live')]).start();
    try {
      const [project1, task1] = [freshGid(), freshGid()];
      const [project1Id] = await insert([
        { gid: project1, type: 'project', version: 1 },
        { gid: task1, version: 1, projects: [P1], assignee: '42' }, // would have matched both deleted routes
      ]);
      await allPublished();
      await waitFor('the new route to get the project', () => recorder.messages.length >= 1 || undefined);
      // The deleted routes' topics stay, and get nothing new.
      expect(await totalEndOffset(kafka, [topicOf('p1'), topicOf('assigned')])).toBe(p1Before);

      const tasksOnly = routesFile('live-2.yaml', [{ name: 'live', filter: { types: ['task'] } }]);
      const changed = await cli('routes', 'apply', '--file', tasksOnly);
      expect(changed.code).toBe(0);
      expect(changed.stdout).toContain('~ update live');
      const changedAt = Date.now();
      await waitFor('fanout to hold the changed filter', () => table.get('live')?.filter.types?.[0] === 'task', {
        timeoutMs: 10_000,
      });
      expect(Date.now() - changedAt).toBeLessThan(6000);
      const [project2, task2] = [freshGid(), freshGid()];
      const [, task2Id] = await insert([
        { gid: project2, type: 'project', version: 1 },
        { gid: task2, version: 1 },
      ]);
      await allPublished();
      await waitFor('the route to get the task', () => recorder.messages.length >= 2 || undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(ids(recorder.messages)).toEqual([project1Id, task2Id]);

      const listed = JSON.parse((await cli('routes', 'list', '--json')).stdout) as unknown[];
      expect(listed).toEqual([
        expect.objectContaining({ name: 'live', filter: { types: ['task'] }, topic: topicOf('live') }),
      ]);
      const unchanged = await cli('routes', 'apply', '--file', tasksOnly);
      expect(unchanged.stdout).toContain('= unchanged live');

      expect((await cli('routes', 'delete', '--name', 'live')).code).toBe(0);
      await waitFor('fanout to drop the route', () => table.get('live') === undefined, { timeoutMs: 10_000 });
      const liveBefore = await totalEndOffset(kafka, [topicOf('live')]);
      await insert([{ gid: freshGid(), version: 1 }]);
      await allPublished();
      expect(await totalEndOffset(kafka, [topicOf('live')])).toBe(liveBefore);
      const missing = await cli('routes', 'delete', '--name', 'live');
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('no route named live');
    } finally {
      await recorder.stop();
    }
  }, 180_000); // many cli runs, each a process (seconds apiece on a loaded machine)

  it('replays a window to its route’s topic only, in per-gid order, with the replay header', async () => {
    const file = routesFile('replay.yaml', [
      { name: 'replayed', filter: { projects: [P1] } },
      { name: 'other', filter: { types: ['task', 'project'] } },
    ]);
    expect((await cli('routes', 'apply', '--file', file)).code).toBe(0);
    const kafka = testKafka();
    const untouched = [taskTopic(), projectTopic(), topicOf('other'), topicOf('p1')];
    const before = await totalEndOffset(kafka, untouched);
    const replayedBefore = await totalEndOffset(kafka, [topicOf('replayed')]);
    const window = ['--route', 'replayed', '--since', first.since, '--until', first.until];

    const dry = await cli('replay', ...window, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('dry run: would replay 4 changes matching route replayed (of 9 scanned)');
    expect(await totalEndOffset(kafka, [topicOf('replayed')])).toBe(replayedBefore);

    const recorder = await new TopicRecorder([topicOf('replayed')]).start();
    try {
      const run = await cli('replay', ...window);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`replayed 4 changes matching route replayed (of 9 scanned)`);
      expect(run.stdout).toContain(topicOf('replayed'));
      await waitFor('the replayed changes', () => recorder.messages.length >= 4 || undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(recorder.messages).toHaveLength(4);
      const [a, b] = first.gids;
      expect(ids(ofGid(recorder.messages, a))).toEqual([first.ids[0], first.ids[2], first.ids[5]]);
      expect(ids(ofGid(recorder.messages, b))).toEqual([first.ids[3]]);
      for (const message of recorder.messages) expect(message.headers['asana-stream-replay']).toBe('1');
      // Nobody else's topic got anything.
      expect(await totalEndOffset(kafka, untouched)).toBe(before);
    } finally {
      await recorder.stop();
    }
    const unknown = await cli('replay', '--route', 'nope', '--since', '1h');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no route named nope');
  }, 180_000); // many cli runs, each a process (seconds apiece on a loaded machine)

  it.each([
    [
      'a filter with a bad action',
      'routes:\n  - name: x\n    filter:\n      actions: [moved]\n',
      'bad.yaml:4: routes[0] (x) filter.actions[0]: "moved" is not one of created',
    ],
    ['YAML that does not parse', 'routes:\n  - name: x\n   filter: [\n', 'bad.yaml:3: not valid YAML'],
    ['a route without a filter', 'routes:\n  - name: x\n', 'bad.yaml:2: routes[0] (x) filter: missing'],
  ])(
    'refuses a routes file with %s, saying where, and changes nothing',
    async (_what, text, message) => {
      const before = (await cli('routes', 'list', '--json')).stdout;
      const path = join(dir, 'bad.yaml');
      writeFileSync(path, text);
      const run = await cli('routes', 'apply', '--file', path);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('is not a valid routes file; nothing was changed');
      expect(run.stderr).toContain(message);
      expect((await cli('routes', 'list', '--json')).stdout).toBe(before);
    },
    120_000,
  );

  it('refuses a file it cannot read', async () => {
    const run = await cli('routes', 'apply', '--file', join(dir, 'missing.yaml'));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot read');
  });
});
