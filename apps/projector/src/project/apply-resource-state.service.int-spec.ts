import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Partitioners } from 'kafkajs';
import { Client, type Notification } from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import type { AsanaResource } from '@asana-stream/asana';
import {
  deadLetterTopic,
  messageDecoder,
  resourceChangeMessageContract,
  TOPICS,
  type ResourceChangeMessage,
  type ResourceStateMessage,
} from '@asana-stream/contracts';
import { createDataSource, OUTBOX_CHANNEL } from '@asana-stream/db';
import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import {
  deleteTopics,
  ensureTopics,
  KafkaConsumerErrorFilter,
  KafkaConsumerServer,
  KafkaPublisher,
} from '@asana-stream/kafka';
import {
  createTestDatabase,
  testKafka,
  testTopicNames,
  TopicRecorder,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import { ApplyResourceStateService, type ApplyOutcome, type BatchOutcome } from './apply-resource-state.service';
import { StateConsumer } from './state.consumer';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
/** Text with everything COPY's text format escapes or JSON quotes: tab, newline, carriage return, backslashes, \\N, quotes. */
const TRICKY_TEXT = 'tab\there\nnew line\r\\N back\\slash "quoted" \\u0041 é 🚀';

let nextGid = 1_200_000;
/** Every test works on gids of its own, so tests share the file's database without seeing each other. */
const freshGid = (): string => String(nextGid++);

function live(gid: string, version: number, fields: Partial<AsanaResource> = {}, type = 'task'): ResourceStateMessage {
  return {
    gid,
    type,
    version,
    versionSource: 'modified_at',
    deleted: false,
    state: {
      gid,
      resource_type: type,
      name: 'Write docs',
      completed: false,
      assignee: { gid: '42', resource_type: 'user' },
      modified_at: new Date(version).toISOString(),
      ...fields,
    },
    fetchedAt: new Date(version + 5).toISOString(),
    causes: [`event-${gid}-${version}`],
  };
}

const items = (messages: ResourceStateMessage[]) => messages.map((message) => ({ message }));

function tombstone(gid: string, version: number, type = 'task'): ResourceStateMessage {
  return { ...live(gid, version, {}, type), versionSource: 'fetched_at', deleted: true, state: null };
}

interface ProjectionRow {
  gid: string;
  version: string;
  deleted_at: Date | null;
  state: AsanaResource;
}
interface TaskRow extends ProjectionRow {
  name: string | null;
  completed: boolean | null;
  assignee_gid: string | null;
}
interface OutboxRow {
  id: string;
  gid: string;
  type: string;
  change: Omit<ResourceChangeMessage, 'changeId'>;
}

describe('ApplyResourceStateService on a real database', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let service: ApplyResourceStateService;
  /** A second connection: it sees only what the service's transactions committed. */
  let observer: Client;

  /** Resolves once a session other than `otherPid` (the batch's) waits on a lock in the test database. */
  const batchWaitingOnLock = (otherPid: number) =>
    waitFor(
      "the batch's statement waiting on the other transaction",
      async () =>
        (
          await observer.query(
            /* sql */ `SELECT 1 FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
            [otherPid],
          )
        ).rowCount === 1,
      { timeoutMs: 5000 },
    );
  const taskRow = async (gid: string): Promise<TaskRow | undefined> =>
    (await observer.query<TaskRow>(/* sql */ `SELECT * FROM tasks WHERE gid = $1`, [gid])).rows[0];
  /** The gid's outbox rows; each, with its id as `changeId` (as the relay adds it), meets the published contract. */
  const outboxOf = async (gid: string): Promise<OutboxRow[]> => {
    const { rows } = await observer.query<OutboxRow>(
      /* sql */ `SELECT id, gid, type, change FROM outbox WHERE gid = $1 ORDER BY id`,
      [gid],
    );
    for (const row of rows) {
      expect(resourceChangeMessageContract.problems({ ...row.change, changeId: row.id })).toEqual([]);
    }
    return rows;
  };

  beforeAll(async () => {
    Logger.overrideLogger(['error', 'warn']);
    db = await createTestDatabase();
    dataSource = createDataSource(db.url, 4);
    await dataSource.initialize();
    service = new ApplyResourceStateService(dataSource);
    observer = new Client({ connectionString: db.url });
    await observer.connect();
  });

  afterAll(async () => {
    await observer?.end();
    await dataSource?.destroy();
    await db?.drop();
  });

  it("writes the state's event time to its outbox row (where end-to-end freshness starts), null when it has none", async () => {
    const [timed, untimed] = [freshGid(), freshGid()];
    await service.applyBatch([
      { message: { ...live(timed, T0), eventAt: '2026-11-22T10:00:00.250Z' } },
      { message: live(untimed, T0) },
    ]);
    const { rows } = await observer.query<{ gid: string; event_at: Date | null }>(
      /* sql */ `SELECT gid, event_at FROM outbox WHERE gid = ANY($1)`,
      [[timed, untimed]],
    );
    expect(new Map(rows.map((row) => [row.gid, row.event_at?.toISOString() ?? null]))).toEqual(
      new Map([
        [timed, '2026-11-22T10:00:00.250Z'],
        [untimed, null],
      ]),
    );
  });

  it('keeps text exactly in the outbox, whatever COPY escapes or JSON quotes (backslashes, tabs, newlines, quotes, \\N)', async () => {
    const gid = freshGid();
    const name = TRICKY_TEXT;
    const message = live(gid, T0, { name, notes: '\\' });

    await expect(service.apply(message)).resolves.toBe('applied');

    const [row] = await outboxOf(gid);
    expect(row.change.state).toEqual(message.state);
    expect(row.change.changes.name).toEqual({ from: null, to: name });
    // The stored JSON is the JSON of the change, character for character.
    const { rows } = await observer.query<{ text: string }>(
      /* sql */ `SELECT change::text AS text FROM outbox WHERE id = $1`,
      [row.id],
    );
    expect(rows[0].text).toBe(JSON.stringify(row.change));
  });

  it.each([
    ['inserted (COPY)', false],
    ['updated', true],
  ])('keeps text exactly in a row it %s, with its query columns', async (_name, storedFirst) => {
    const [task, project, tag] = [freshGid(), freshGid(), freshGid()];
    const states = (version: number, name: string) => [
      live(task, version, { name, notes: '\\', completed: true, assignee: null }),
      live(project, version, { name, archived: true, workspace: { gid: '7', resource_type: 'workspace' } }, 'project'),
      live(tag, version, { name }, 'tag'),
    ];
    if (storedFirst) await service.applyBatch(items(states(T0, 'before')));

    await expect(service.applyBatch(items(states(T0 + 1000, TRICKY_TEXT)))).resolves.toEqual([
      'applied',
      'applied',
      'applied',
    ]);

    const [taskState, projectState, tagState] = states(T0 + 1000, TRICKY_TEXT).map((message) => message.state);
    expect(await taskRow(task)).toMatchObject({
      state: taskState,
      name: TRICKY_TEXT,
      completed: true,
      assignee_gid: null,
      version: String(T0 + 1000),
      deleted_at: null,
    });
    const { rows: projects } = await observer.query(
      /* sql */ `SELECT state, name, archived, workspace_gid FROM projects WHERE gid = $1`,
      [project],
    );
    expect(projects).toEqual([{ state: projectState, name: TRICKY_TEXT, archived: true, workspace_gid: '7' }]);
    const { rows: resources } = await observer.query(/* sql */ `SELECT state, type FROM resources WHERE gid = $1`, [
      tag,
    ]);
    expect(resources).toEqual([{ state: tagState, type: 'tag' }]);
  });

  describe('given no row for the gid', () => {
    it('when a live task state arrives, then it creates the row with its query columns and one created change', async () => {
      const gid = freshGid();

      await expect(service.apply(live(gid, T0))).resolves.toBe('applied');

      const row = await taskRow(gid);
      expect(row).toMatchObject({
        name: 'Write docs',
        completed: false,
        assignee_gid: '42',
        version: String(T0),
        deleted_at: null,
      });
      expect(row!.state).toEqual(live(gid, T0).state);
      const outbox = await outboxOf(gid);
      expect(outbox).toHaveLength(1);
      expect(outbox[0]).toMatchObject({ gid, type: 'task' });
      expect(outbox[0].change).toMatchObject({
        schema: 1,
        gid,
        type: 'task',
        action: 'created',
        version: T0,
        state: live(gid, T0).state,
        causes: [`event-${gid}-${T0}`],
        occurredAt: new Date(T0).toISOString(),
      });
      expect(outbox[0].change.changes.name).toEqual({ from: null, to: 'Write docs' });
    });

    it('when a project state arrives, then it lands in projects, not tasks', async () => {
      const gid = freshGid();

      await service.apply(live(gid, T0, { name: 'Roadmap', archived: false }, 'project'));

      const projects = await observer.query(/* sql */ `SELECT name, archived, version FROM projects WHERE gid = $1`, [
        gid,
      ]);
      expect(projects.rows).toEqual([{ name: 'Roadmap', archived: false, version: String(T0) }]);
      expect(await taskRow(gid)).toBeUndefined();
      expect((await outboxOf(gid)).map((r) => [r.type, r.change.action])).toEqual([['project', 'created']]);
    });

    it('when a state of a type without its own table arrives, then it lands in resources with its type', async () => {
      const gid = freshGid();

      await service.apply(live(gid, T0, { name: 'Backlog' }, 'section'));

      const resources = await observer.query(/* sql */ `SELECT type, version, state FROM resources WHERE gid = $1`, [
        gid,
      ]);
      expect(resources.rows).toEqual([
        { type: 'section', version: String(T0), state: live(gid, T0, { name: 'Backlog' }, 'section').state },
      ]);
      expect(await taskRow(gid)).toBeUndefined();
      expect((await outboxOf(gid)).map((r) => [r.type, r.change.action])).toEqual([['section', 'created']]);
    });
  });

  describe('given a live row', () => {
    it('when a newer version arrives, then it updates the row and writes exactly the changed fields', async () => {
      const gid = freshGid();
      await service.apply(live(gid, T0));

      await expect(service.apply(live(gid, T0 + 1000, { name: 'Renamed', completed: true }))).resolves.toBe('applied');

      expect(await taskRow(gid)).toMatchObject({ name: 'Renamed', completed: true, version: String(T0 + 1000) });
      const outbox = await outboxOf(gid);
      expect(outbox.map((r) => r.change.action)).toEqual(['created', 'updated']);
      expect(outbox[1].change).toMatchObject({ action: 'updated', version: T0 + 1000 });
      expect(outbox[1].change.changes).toEqual({
        completed: { from: false, to: true },
        name: { from: 'Write docs', to: 'Renamed' },
      });
    });

    it('when the same message is applied twice, then the second changes nothing and writes no change', async () => {
      const gid = freshGid();
      const message = live(gid, T0);
      await service.apply(message);
      const before = await taskRow(gid);

      await expect(service.apply(message)).resolves.toBe('duplicate');

      expect(await taskRow(gid)).toEqual(before);
      expect(await outboxOf(gid)).toHaveLength(1);
    });

    it('when an older version arrives after a newer one, then the row keeps the newer one', async () => {
      const gid = freshGid();
      await service.apply(live(gid, T0 + 2000, { name: 'Newer' }));

      await expect(service.apply(live(gid, T0 + 1000, { name: 'Older' }))).resolves.toBe('stale');

      expect(await taskRow(gid)).toMatchObject({ name: 'Newer', version: String(T0 + 2000) });
      expect((await outboxOf(gid)).map((r) => r.change.action)).toEqual(['created']);
    });

    it('when a tombstone arrives, then it sets deleted_at, keeps the row and writes a deleted change', async () => {
      const gid = freshGid();
      await service.apply(live(gid, T0, { name: 'Doomed' }));

      await expect(service.apply(tombstone(gid, T0 + 1000))).resolves.toBe('applied');

      const row = await taskRow(gid);
      expect(row).toMatchObject({ name: 'Doomed', version: String(T0 + 1000) });
      expect(row!.deleted_at).toBeInstanceOf(Date);
      expect(row!.state).toMatchObject({ gid, name: 'Doomed' });
      const outbox = await outboxOf(gid);
      expect(outbox.map((r) => r.change.action)).toEqual(['created', 'deleted']);
      expect(outbox[1].change).toMatchObject({ action: 'deleted', state: null, changes: {}, version: T0 + 1000 });
    });
  });

  describe('given a deleted row', () => {
    it('when a stale live state arrives, then the row stays deleted and nothing is written', async () => {
      const gid = freshGid();
      await service.apply(live(gid, T0));
      await service.apply(tombstone(gid, T0 + 2000));
      const deleted = await taskRow(gid);

      await expect(service.apply(live(gid, T0 + 1000, { name: 'Zombie' }))).resolves.toBe('stale');

      expect(await taskRow(gid)).toEqual(deleted);
      expect(deleted!.deleted_at).not.toBeNull();
      expect((await outboxOf(gid)).map((r) => r.change.action)).toEqual(['created', 'deleted']);
    });

    it('when a newer live state arrives, then it undeletes the row with the fields that changed', async () => {
      const gid = freshGid();
      await service.apply(live(gid, T0));
      await service.apply(tombstone(gid, T0 + 1000));

      await expect(service.apply(live(gid, T0 + 2000, { name: 'Back' }))).resolves.toBe('applied');

      expect(await taskRow(gid)).toMatchObject({ name: 'Back', deleted_at: null, version: String(T0 + 2000) });
      const outbox = await outboxOf(gid);
      expect(outbox.map((r) => r.change.action)).toEqual(['created', 'deleted', 'undeleted']);
      expect(outbox[2].change.changes).toEqual({ name: { from: 'Write docs', to: 'Back' } });
    });
  });

  describe('given a second connection watching', () => {
    it('when a change is applied, then its row and its outbox row stay invisible until the transaction commits', async () => {
      const gid = freshGid();
      const seenBeforeCommit: { insideTransaction?: number; taskRow?: unknown; outboxRows?: number } = {};
      // Let the service run its own transaction, but stop it just before COMMIT to look from outside.
      const transaction = dataSource.transaction.bind(dataSource) as (
        isolation: 'READ COMMITTED',
        work: (manager: EntityManager) => Promise<unknown>,
      ) => Promise<unknown>;
      const spy = jest.spyOn(dataSource, 'transaction').mockImplementationOnce(((
        isolation: 'READ COMMITTED',
        work: (manager: EntityManager) => Promise<unknown>,
      ) =>
        transaction(isolation, async (manager) => {
          const result = await work(manager);
          const inside = await manager.query<{ n: number }[]>(
            /* sql */ `SELECT count(*)::int AS n FROM outbox WHERE gid = $1`,
            [gid],
          );
          seenBeforeCommit.insideTransaction = inside[0].n;
          seenBeforeCommit.taskRow = await taskRow(gid);
          seenBeforeCommit.outboxRows = (await outboxOf(gid)).length;
          return result;
        })) as unknown as DataSource['transaction']);

      try {
        await expect(service.apply(live(gid, T0))).resolves.toBe('applied');
      } finally {
        spy.mockRestore();
      }

      expect(seenBeforeCommit).toEqual({ insideTransaction: 1, taskRow: undefined, outboxRows: 0 });
      expect(await taskRow(gid)).toMatchObject({ gid, name: 'Write docs' });
      expect(await outboxOf(gid)).toHaveLength(1);
    });

    it('when changes are applied, then a LISTENing connection is notified once per applied change', async () => {
      const gid = freshGid();
      const listener = new Client({ connectionString: db.url });
      const received: string[] = [];
      listener.on('notification', (n: Notification) => received.push(n.payload ?? ''));
      await listener.connect();
      try {
        await listener.query(/* sql */ `LISTEN ${listener.escapeIdentifier(OUTBOX_CHANNEL)}`);

        const outcomes = [];
        outcomes.push(await service.apply(live(gid, T0)));
        outcomes.push(await service.apply(live(gid, T0)));
        outcomes.push(await service.apply(live(gid, T0 - 1000, { name: 'Older' })));
        outcomes.push(await service.apply(live(gid, T0 + 1000))); // newer, but no visible field changed
        outcomes.push(await service.apply(live(gid, T0 + 2000, { name: 'Renamed' })));
        outcomes.push(await service.apply(tombstone(gid, T0 + 3000)));
        expect(outcomes).toEqual(['applied', 'duplicate', 'stale', 'applied-silently', 'applied', 'applied']);
        // Notifications arrive in commit order: once this marker is here, every earlier one is too.
        await observer.query(/* sql */ `SELECT pg_notify($1, 'marker')`, [OUTBOX_CHANNEL]);
        await waitFor('the marker notification', () => received.includes('marker'), { timeoutMs: 5000 });

        expect(received.filter((payload) => payload !== 'marker')).toHaveLength(3);
        expect(await outboxOf(gid)).toHaveLength(3);
      } finally {
        await listener.end();
      }
    });
  });
  describe('given a batch of messages', () => {
    const TABLES = ['tasks', 'projects', 'resources'] as const;

    /** Every projection row of the gids (minus updated_at; deleted_at as a flag) and their outbox rows in id order. */
    async function snapshot(gids: string[]) {
      const rows: Record<string, unknown>[] = [];
      for (const table of TABLES) {
        const result = await observer.query<{ row: Record<string, unknown> }>(
          /* sql */ `SELECT to_jsonb(t) - 'updated_at' - 'deleted_at'
                      || jsonb_build_object('table', $2::text, 'deleted', t.deleted_at IS NOT NULL) AS row
                    FROM ${table} t WHERE gid = ANY($1) ORDER BY gid`,
          [gids, table],
        );
        rows.push(...result.rows.map((r) => r.row));
      }
      const outbox = await observer.query<{ gid: string; type: string; change: unknown; traceparent: string | null }>(
        /* sql */ `SELECT gid, type, change, traceparent FROM outbox WHERE gid = ANY($1) ORDER BY id`,
        [gids],
      );
      return { rows, outbox: outbox.rows };
    }

    async function forget(gids: string[]): Promise<void> {
      for (const table of [...TABLES, 'outbox']) {
        await observer.query(/* sql */ `DELETE FROM ${table} WHERE gid = ANY($1)`, [gids]);
      }
    }

    /** Per gid, its outbox changes in id order: versions strictly increase, so each change is there once, in order. */
    async function expectOrderedOutbox(gids: string[]): Promise<Map<string, OutboxRow[]>> {
      const result = await observer.query<OutboxRow>(
        /* sql */ `SELECT id, gid, type, change FROM outbox WHERE gid = ANY($1) ORDER BY id`,
        [gids],
      );
      const byGid = new Map<string, OutboxRow[]>();
      for (const row of result.rows) byGid.set(row.gid, [...(byGid.get(row.gid) ?? []), row]);
      for (const rows of byGid.values()) {
        const versions = rows.map((row) => row.change.version);
        expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
      }
      return byGid;
    }

    it('when it mixes duplicates, reordering, delete and undelete over several gids and types, then it ends as applying one by one', async () => {
      const [a, b, c, d, e, f] = Array.from({ length: 6 }, freshGid);
      const gids = [a, b, c, d, e, f];
      const setup = [live(d, T0), live(f, T0, { name: 'Gone' }, 'project'), tombstone(f, T0 + 500, 'project')];
      const batch: ResourceStateMessage[] = [
        live(a, T0),
        live(b, T0, { name: 'Roadmap' }, 'project'),
        live(a, T0),
        tombstone(c, T0 + 2000, 'section'),
        live(d, T0 + 1000),
        live(a, T0 + 3000, { name: 'Renamed' }),
        live(c, T0 + 1000, { name: 'Zombie' }, 'section'),
        live(a, T0 + 2000, { name: 'Late' }),
        live(e, T0, { name: 'Tag' }, 'tag'),
        live(b, T0 + 1000, { archived: true }, 'project'),
        tombstone(a, T0 + 4000),
        live(d, T0 + 3000, { completed: true, assignee: { gid: '77', resource_type: 'user' } }),
        tombstone(e, T0 + 1000, 'tag'),
        tombstone(a, T0 + 5000),
        live(f, T0 + 1000, { name: 'Back' }, 'project'),
        live(e, T0 + 500, { name: 'Stale' }, 'tag'),
        live(a, T0 + 6000, { name: 'Undeleted' }),
        live(a, T0 + 6000, { name: 'Undeleted' }),
        live(d, T0 + 2000, { name: 'Late' }),
      ];
      for (const message of setup) await service.apply(message);
      const oneByOne: ApplyOutcome[] = [];
      for (const message of batch) oneByOne.push(await service.apply(message));
      const expected = await snapshot(gids);

      await forget(gids);
      for (const message of setup) await service.apply(message);
      const outcomes = await service.applyBatch(items(batch));
      expect(outcomes).toEqual(oneByOne);
      expect(outcomes).toEqual([
        'applied',
        'applied',
        'duplicate',
        'applied',
        'applied-silently',
        'applied',
        'stale',
        'stale',
        'applied',
        'applied',
        'applied',
        'applied',
        'applied',
        'applied-silently',
        'applied',
        'stale',
        'applied',
        'duplicate',
        'stale',
      ]);
      expect(await snapshot(gids)).toEqual(expected);

      const byGid = await expectOrderedOutbox(gids);
      expect(byGid.get(a)!.map((row) => row.change.action)).toEqual(['created', 'updated', 'deleted', 'undeleted']);
      expect(byGid.get(c)!.map((row) => [row.type, row.change.action])).toEqual([['section', 'deleted']]);
      expect(byGid.get(d)!.map((row) => row.change.action)).toEqual(['created', 'updated']);
      expect(byGid.get(f)!.map((row) => row.change.action)).toEqual(['created', 'deleted', 'undeleted']);
      const undeleted = await taskRow(a);
      expect(undeleted).toMatchObject({ name: 'Undeleted', deleted_at: null, version: String(T0 + 6000) });
    });

    it('when a tombstone follows a stored tombstone, then the row keeps the time it was first deleted', async () => {
      const gid = freshGid();
      await service.apply(live(gid, T0));
      await service.apply(tombstone(gid, T0 + 1000));
      const deletedAt = (
        await observer.query<{ t: string }>(`SELECT deleted_at::text AS t FROM tasks WHERE gid = $1`, [gid])
      ).rows[0].t;
      await expect(service.applyBatch(items([tombstone(gid, T0 + 2000), tombstone(gid, T0 + 3000)]))).resolves.toEqual([
        'applied-silently',
        'applied-silently',
      ]);
      const after = await observer.query(`SELECT deleted_at::text AS t, version FROM tasks WHERE gid = $1`, [gid]);
      expect(after.rows).toEqual([{ t: deletedAt, version: String(T0 + 3000) }]);
    });

    it('when it holds thousands of messages, then every row and change is written, each gid in order, one NOTIFY', async () => {
      const gids = Array.from({ length: 2500 }, freshGid);
      const listener = new Client({ connectionString: db.url });
      const received: string[] = [];
      listener.on('notification', (n: Notification) => received.push(n.payload ?? ''));
      await listener.connect();
      try {
        await listener.query(/* sql */ `LISTEN ${listener.escapeIdentifier(OUTBOX_CHANNEL)}`);
        const messages = [
          ...gids.map((gid) => live(gid, T0)),
          ...gids.map((gid, i) => live(gid, T0 + 1000, { name: `n${i}` })),
        ];
        const outcomes = await service.applyBatch(items(messages));
        expect(outcomes.every((outcome) => outcome === 'applied')).toBe(true);
        await observer.query(/* sql */ `SELECT pg_notify($1, 'marker')`, [OUTBOX_CHANNEL]);
        await waitFor('the marker notification', () => received.includes('marker'), { timeoutMs: 5000 });
        expect(received.filter((payload) => payload !== 'marker')).toHaveLength(1);
      } finally {
        await listener.end();
      }
      const rows = await observer.query(
        /* sql */ `SELECT count(*)::int AS n FROM tasks WHERE gid = ANY($1) AND version = $2`,
        [gids, T0 + 1000],
      );
      expect(rows.rows[0].n).toBe(gids.length);
      const byGid = await expectOrderedOutbox(gids);
      expect([...byGid.values()].every((rows) => rows.map((r) => r.change.action).join() === 'created,updated')).toBe(
        true,
      );
      expect(byGid.size).toBe(gids.length);
      // Ids follow the order the changes were decided in: every created before every updated.
      const ids = [...byGid.values()].map((rows) => rows.map((r) => BigInt(r.id)));
      const lastCreated = ids.reduce((max, [created]) => (created > max ? created : max), 0n);
      expect(ids.every(([, updated]) => updated > lastCreated)).toBe(true);
    });

    it('when one message cannot be projected, then it is reported with its error and the others commit', async () => {
      const [a, bad, b] = Array.from({ length: 3 }, freshGid);
      const other: ResourceStateMessage = { ...live(bad, T0), state: { gid: '1', name: 'another resource' } };
      const outcomes: BatchOutcome[] = await service.applyBatch(
        items([live(a, T0), other, live(b, T0), live(a, T0 + 1000, { name: 'Renamed' })]),
      );
      expect(outcomes[1]).toBeInstanceOf(AsanaStreamError);
      expect(outcomes[1]).toMatchObject({ code: 'INVALID_MESSAGE', disposition: 'dead-letter' });
      expect([outcomes[0], outcomes[2], outcomes[3]]).toEqual(['applied', 'applied', 'applied']);
      expect(await taskRow(a)).toMatchObject({ name: 'Renamed' });
      expect(await taskRow(b)).toMatchObject({ name: 'Write docs' });
      expect(await taskRow(bad)).toBeUndefined();
      expect(await outboxOf(bad)).toEqual([]);
      await expect(service.apply(other)).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    });

    it('when the database fails during the transaction, then nothing of the batch is written and a retry applies it', async () => {
      const [a, b] = [freshGid(), freshGid()];
      const batch = items([live(a, T0), live(b, T0), live(a, T0 + 1000, { name: 'Renamed' })]);
      const transaction = dataSource.transaction.bind(dataSource) as (
        isolation: 'READ COMMITTED',
        work: (manager: EntityManager) => Promise<unknown>,
      ) => Promise<unknown>;
      // The batch's own connection is terminated by the server just before the outbox COPY, after
      // the rows were written: the service reaches the connection through its query runner.
      const terminatingBeforeCopy = (client: Client): Client =>
        new Proxy(client, {
          get(target, property, receiver) {
            if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
            return (query: unknown, ...rest: unknown[]): unknown => {
              const { text } = query as { text?: unknown };
              const outboxCopy = typeof text === 'string' && text.startsWith('COPY outbox ');
              if (!outboxCopy) return (target.query as (...args: unknown[]) => unknown)(query, ...rest);
              // The outbox's COPY stream: the server ends the session first, then the stream meets a dead connection.
              void target.query(`SELECT pg_terminate_backend(pg_backend_pid())`).catch(() => undefined);
              return (target.query as (...args: unknown[]) => unknown)(query, ...rest);
            };
          },
        });
      const spy = jest.spyOn(dataSource, 'transaction').mockImplementationOnce(((
        isolation: 'READ COMMITTED',
        work: (manager: EntityManager) => Promise<unknown>,
      ) =>
        transaction(isolation, (manager) => {
          const runner = manager.queryRunner!;
          const connect = runner.connect.bind(runner);
          runner.connect = async () => terminatingBeforeCopy((await connect()) as Client);
          return work(manager);
        })) as unknown as DataSource['transaction']);
      let failure: unknown;
      try {
        await service.applyBatch(batch).catch((error: unknown) => (failure = error));
      } finally {
        spy.mockRestore();
      }
      expect(classifyError(failure)).toMatchObject({ code: 'DATABASE_UNAVAILABLE', disposition: 'retry' });
      expect(await taskRow(a)).toBeUndefined();
      expect(await taskRow(b)).toBeUndefined();
      await expect(service.applyBatch(batch)).resolves.toEqual(['applied', 'applied', 'applied']);
      expect((await outboxOf(a)).map((row) => row.change.action)).toEqual(['created', 'updated']);
    });

    it('when concurrent batches touch the same gids, then none deadlocks and every gid converges with its changes in order', async () => {
      for (let round = 0; round < 3; round++) {
        const existing = Array.from({ length: 80 }, freshGid);
        const fresh = Array.from({ length: 80 }, freshGid);
        const all = [...existing, ...fresh];
        const typeOf = (i: number) => (i % 5 === 0 ? 'project' : i % 7 === 0 ? 'section' : 'task');
        await service.applyBatch(items(existing.map((gid, i) => live(gid, T0, {}, typeOf(i)))));
        const writers = 4;
        const batches = Array.from({ length: writers }, (_, w) => {
          // Each writer its own gid order (ascending, descending, rotated): the SQL locks in gid order regardless.
          const order = w % 2 === 0 ? [...all] : [...all].reverse();
          const rotated = [...order.slice(w * 17), ...order.slice(0, w * 17)];
          return rotated.flatMap((gid) => {
            const i = all.indexOf(gid) % existing.length;
            const version = T0 + 1000 * (w + 1);
            return (i + w) % 6 === 0
              ? [tombstone(gid, version, typeOf(i))]
              : [
                  live(gid, version - 500, { name: `w${w}-early` }, typeOf(i)),
                  live(gid, version, { name: `w${w}` }, typeOf(i)),
                ];
          });
        });
        const conflicts: Record<string, unknown>[] = [];
        // As the transport would: a retriable failure runs the whole batch again.
        const run = async (messages: ResourceStateMessage[]) => {
          for (;;) {
            try {
              return await service.applyBatch(items(messages));
            } catch (error) {
              const classified = classifyError(error);
              conflicts.push({ code: classified.code, ...classified.details });
              if (classified.code !== 'DATABASE_CONFLICT') throw error;
            }
          }
        };
        await Promise.all(batches.map(run));
        expect(conflicts.filter((conflict) => conflict.sqlState === '40P01')).toEqual([]);
        const last = batches[writers - 1];
        for (const table of TABLES) {
          const rows = await observer.query<{ gid: string; version: string; deleted: boolean; name: string | null }>(
            /* sql */ `SELECT gid, version, deleted_at IS NOT NULL AS deleted, state->>'name' AS name
                      FROM ${table} WHERE gid = ANY($1)`,
            [all],
          );
          for (const row of rows.rows) {
            const final = last.filter((m) => m.gid === row.gid).at(-1)!;
            expect({ gid: row.gid, version: Number(row.version), deleted: row.deleted }).toEqual({
              gid: row.gid,
              version: final.version,
              deleted: final.deleted,
            });
            if (!final.deleted) expect(row.name).toBe(`w${writers - 1}`);
          }
        }
        const byGid = await expectOrderedOutbox(all);
        for (const gid of all) {
          const changes = byGid.get(gid)!;
          expect(changes.at(-1)!.change.version).toBe(T0 + 1000 * writers);
          // A gid's first change creates it (or records its tombstone), whichever batch came first.
          if (fresh.includes(gid)) expect(['created', 'deleted']).toContain(changes[0].change.action);
          else expect(changes[0].change.action).toBe('created');
          expect(changes.filter((row) => row.change.action === 'created')).toHaveLength(
            changes[0].change.action === 'created' ? 1 : 0,
          );
        }
      }
    });

    it.each([
      ['older', -500, 'applied'],
      ['newer', 500, 'stale'],
    ] as const)(
      'when another transaction inserts a gid the batch read as absent (%s version), then the batch fails retriably, writes nothing, and its retry decides against that row',
      async (_name, offset, retried) => {
        const gid = freshGid();
        const other = freshGid();
        const version = T0 + 1000;
        const writer = new Client({ connectionString: db.url });
        await writer.connect();
        const writerPid = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
        try {
          // The other writer's row is inserted but not committed: the batch reads nothing for the gid
          // (no row to lock), and its insert waits on the writer's.
          await writer.query('BEGIN');
          await writer.query(
            /* sql */ `INSERT INTO tasks (gid, state, version, updated_at) VALUES ($1, $2, $3, now())`,
            [gid, JSON.stringify({ gid, resource_type: 'task', name: 'Theirs' }), version + offset],
          );
          const applying = service.applyBatch(items([live(other, version), live(gid, version)]));
          const failure = applying.then(
            () => null,
            (error: unknown) => error,
          );
          await batchWaitingOnLock(writerPid);
          await writer.query('COMMIT');
          const error = classifyError(await failure);
          // The COPY of the batch's new rows meets the committed row: a unique violation.
          expect({ code: error.code, disposition: error.disposition, details: error.details }).toMatchObject({
            code: 'DATABASE_CONFLICT',
            disposition: 'retry',
            details: { sqlState: '23505', table: 'tasks' },
          });
          expect(await taskRow(other)).toBeUndefined();
          expect(await outboxOf(gid)).toEqual([]);

          // As the transport would: the whole batch again.
          expect(await service.applyBatch(items([live(other, version), live(gid, version)]))).toEqual([
            'applied',
            retried,
          ]);
          expect(Number((await taskRow(gid))!.version)).toBe(Math.max(version, version + offset));
          expect((await outboxOf(gid)).map((row) => row.change.action)).toEqual(
            retried === 'applied' ? ['updated'] : [],
          );
          expect((await outboxOf(other)).map((row) => row.change.action)).toEqual(['created']);
        } finally {
          await writer.end();
        }
      },
    );
  });
  it('when another transaction inserts a gid the batch holds locked, while the batch waits on its insert, then neither deadlocks: the other fails at once', async () => {
    // The other transaction read both gids as absent before this one's row existed (a replica
    // still applying its batch during a rebalance); its inserts come in gid order, as the batch's do.
    const [held, inserted] = [freshGid(), freshGid()].sort();
    await service.apply(live(held, T0));
    const other = new Client({ connectionString: db.url });
    await other.connect();
    const otherPid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const insert = (gid: string) =>
      other.query(/* sql */ `INSERT INTO tasks (gid, state, version, updated_at) VALUES ($1, '{}', 1, now())`, [gid]);
    try {
      await other.query('BEGIN');
      await insert(inserted);
      // The batch locks `held`, then its COPY of `inserted` waits on the other's insert.
      const applying = service.applyBatch(
        items([live(held, T0 + 1000, { name: 'Renamed' }), live(inserted, T0 + 1000)]),
      );
      const outcome = applying.then(
        (outcomes) => ({ outcomes }),
        (error: unknown) => ({ error: classifyError(error) }),
      );
      await batchWaitingOnLock(otherPid);
      // Had the batch updated `held` before inserting, this insert would wait on it: a deadlock,
      // which Postgres ends by failing one side with 40P01.
      const refused = await insert(held).then(
        () => null,
        (error: unknown) => error as { code?: string },
      );
      expect(refused?.code).toBe('23505');
      await other.query('ROLLBACK');

      expect(await outcome).toEqual({ outcomes: ['applied', 'applied'] });
      expect(Number((await taskRow(held))!.version)).toBe(T0 + 1000);
      expect((await outboxOf(inserted)).map((row) => row.change.action)).toEqual(['created']);
    } finally {
      await other.end();
    }
  });

  describe('through the consumer transport on the real broker', () => {
    const TOPIC_SPECS = [TOPICS.state, deadLetterTopic(TOPICS.state.name)];

    it('applies a batch, dead-letters the one message it cannot project, commits the rest once, and commits the offsets', async () => {
      const names = testTopicNames();
      const kafka = testKafka();
      const cleanup: (() => Promise<unknown>)[] = [];
      try {
        await ensureTopics(kafka, TOPIC_SPECS, names);
        cleanup.push(() => deleteTopics(kafka, TOPIC_SPECS, names));
        const [a, b, bad, c] = Array.from({ length: 4 }, freshGid);
        const other: ResourceStateMessage = { ...live(bad, T0), state: { gid: '1', name: 'another resource' } };
        const messages = [
          live(a, T0),
          live(b, T0, {}, 'project'),
          live(a, T0 + 1000, { name: 'Renamed' }),
          other,
          live(c, T0),
          tombstone(b, T0 + 1000, 'project'),
          live(a, T0 + 1000, { name: 'Renamed' }),
        ];
        const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
        await producer.connect();
        cleanup.push(() => producer.disconnect());
        // One partition: the messages reach the handler as one batch, in this order.
        await producer.send({
          topic: names.physical(TOPICS.state.name),
          acks: -1,
          messages: messages.map((message) => ({ key: message.gid, value: JSON.stringify(message), partition: 0 })),
        });

        const deadLetters = new KafkaPublisher(kafka);
        await deadLetters.onModuleInit();
        cleanup.push(() => deadLetters.onApplicationShutdown());
        const dlq = names.physical(deadLetterTopic(TOPICS.state.name).name);
        const recorder = await new TopicRecorder([dlq]).start();
        cleanup.push(() => recorder.stop());

        const groupId = `projector-int-${randomBytes(4).toString('hex')}`;
        const server = new KafkaConsumerServer({
          kafka,
          groupId,
          names,
          topics: [TOPICS.state.name],
          decoders: { [TOPICS.state.name]: messageDecoder(TOPICS.state.name) },
          deadLetters,
        });
        const moduleRef = await Test.createTestingModule({
          controllers: [StateConsumer],
          providers: [ApplyResourceStateService, { provide: DataSource, useValue: dataSource }],
        }).compile();
        const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
        app.useGlobalFilters(new KafkaConsumerErrorFilter());
        await app.listen();
        cleanup.push(() => app.close());

        const admin = kafka.admin();
        await admin.connect();
        cleanup.push(() => admin.disconnect());
        await waitFor(
          'the batch committed',
          async () => {
            const [offsets] = await admin.fetchOffsets({ groupId, topics: [names.physical(TOPICS.state.name)] });
            return offsets.partitions.find((p) => p.partition === 0)?.offset === String(messages.length);
          },
          { timeoutMs: 30_000 },
        );
        const parked = await waitFor('the dead letter', () =>
          recorder.messages.length > 0 ? recorder.messages : undefined,
        );
        expect(parked.map((m) => [m.key, m.headers['x-dlq-code'], m.headers['x-dlq-source-offset']])).toEqual([
          [bad, 'INVALID_MESSAGE', '3'],
        ]);
        expect(await taskRow(a)).toMatchObject({ name: 'Renamed', version: String(T0 + 1000) });
        expect(await taskRow(c)).toMatchObject({ name: 'Write docs' });
        expect(await taskRow(bad)).toBeUndefined();
        const project = await observer.query(
          /* sql */ `SELECT version, deleted_at IS NOT NULL AS deleted FROM projects WHERE gid = $1`,
          [b],
        );
        expect(project.rows).toEqual([{ version: String(T0 + 1000), deleted: true }]);
        // The batch committed once; running its messages again one by one (to find the culprit) wrote nothing more.
        expect((await outboxOf(a)).map((row) => row.change.action)).toEqual(['created', 'updated']);
        expect((await outboxOf(b)).map((row) => row.change.action)).toEqual(['created', 'deleted']);
        expect((await outboxOf(c)).map((row) => row.change.action)).toEqual(['created']);
        expect(await outboxOf(bad)).toEqual([]);
      } finally {
        for (const step of cleanup.reverse()) await step().catch(() => undefined);
      }
    });
  });
});
