import { Logger } from '@nestjs/common';
import { Client, type Notification } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import type { AsanaResource } from '@asana-stream/asana';
import type { ResourceChangeMessage, ResourceStateMessage } from '@asana-stream/contracts';
import { createDataSource, OUTBOX_CHANNEL } from '@asana-stream/db';
import { createTestDatabase, waitFor, type TestDatabase } from '@asana-stream/testing';
import { ApplyResourceStateService } from './apply-resource-state.service';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');

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

  const taskRow = async (gid: string): Promise<TaskRow | undefined> =>
    (await observer.query<TaskRow>(/* sql */ `SELECT * FROM tasks WHERE gid = $1`, [gid])).rows[0];
  const outboxOf = async (gid: string): Promise<OutboxRow[]> =>
    (
      await observer.query<OutboxRow>(/* sql */ `SELECT id, gid, type, change FROM outbox WHERE gid = $1 ORDER BY id`, [
        gid,
      ])
    ).rows;

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
});
