import type { AsanaResource } from '@asana-stream/asana';
import type { ResourceStateMessage } from '@asana-stream/contracts';
import {
  gidsByTable,
  planProjection,
  type PlannedChange,
  type ProjectionPlan,
  type StateToApply,
  type StoredRow,
} from './projection-plan';
import type { ProjectionTable } from './projection-tables';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const EARLIER = new Date('2026-11-20T08:00:00.000Z');

function live(gid: string, version: number, fields: Partial<AsanaResource> = {}, type = 'task'): ResourceStateMessage {
  return {
    gid,
    type,
    version,
    versionSource: 'modified_at',
    deleted: false,
    state: { gid, resource_type: type, name: 'Write docs', completed: false, ...fields },
    fetchedAt: new Date(version + 5).toISOString(),
    causes: [`e-${gid}-${version}`],
  };
}

function tombstone(gid: string, version: number, type = 'task'): ResourceStateMessage {
  return { ...live(gid, version, {}, type), versionSource: 'fetched_at', deleted: true, state: null };
}

const storedRow = (version: number, deletedAt: Date | null = null, fields: Partial<AsanaResource> = {}): StoredRow => ({
  version,
  deletedAt,
  state: { gid: 'x', resource_type: 'task', name: 'Write docs', completed: false, ...fields },
});

type Store = Map<string, StoredRow>;
const lookup = (store: Store) => (table: ProjectionTable['name'], gid: string) => store.get(`${table}/${gid}`);
const plan = (messages: ResourceStateMessage[], store: Store = new Map()): ProjectionPlan =>
  planProjection(
    messages.map((message) => ({ message })),
    lookup(store),
    NOW,
  );
const actions = (changes: PlannedChange[]) => changes.map((c) => [c.gid, c.change.action, c.change.version]);

describe('planProjection', () => {
  it('gives a change the event time of its state, or null when the state has none', () => {
    const timed = { ...live('1', 1000), eventAt: '2026-11-22T10:00:00.000Z' };
    expect(plan([timed, live('2', 1000)]).changes.map(({ gid, eventAt }) => [gid, eventAt])).toEqual([
      ['1', '2026-11-22T10:00:00.000Z'],
      ['2', null],
    ]);
  });

  it('plans nothing for an empty batch', () => {
    expect(plan([])).toEqual({ outcomes: [], writes: [], changes: [] });
  });

  describe('one message, as the version guard decides it', () => {
    it('creates an unseen task: a new row with its query columns, and a created change', () => {
      const message = {
        ...live('1', 1000, { assignee: { gid: '42' }, workspace: { gid: '7' } }),
        eventAt: '2026-11-22T10:00:00.000Z',
      };
      const result = plan([message]);
      expect(result.outcomes).toEqual(['applied']);
      expect(result.writes).toHaveLength(1);
      expect(result.writes[0].table.name).toBe('tasks');
      expect(result.writes[0].rows).toEqual([
        {
          gid: '1',
          isNew: true,
          version: 1000,
          state: message.state,
          deletedAt: null,
          columns: { name: 'Write docs', completed: false, assignee_gid: '42', workspace_gid: '7' },
        },
      ]);
      expect(result.changes).toEqual([
        {
          gid: '1',
          type: 'task',
          traceparent: null,
          eventAt: '2026-11-22T10:00:00.000Z',
          change: {
            schema: 1,
            gid: '1',
            type: 'task',
            action: 'created',
            version: 1000,
            changes: {
              completed: { from: null, to: false },
              gid: { from: null, to: '1' },
              name: { from: null, to: 'Write docs' },
              resource_type: { from: null, to: 'task' },
              assignee: { from: null, to: { gid: '42' } },
              workspace: { from: null, to: { gid: '7' } },
            },
            state: message.state,
            causes: ['e-1-1000'],
            occurredAt: new Date(1000).toISOString(),
          },
        },
      ]);
    });

    it('updates a stored row: not new, only the changed fields', () => {
      const result = plan([live('1', 2000, { name: 'Renamed' })], new Map([['tasks/1', storedRow(1000)]]));
      expect(result.outcomes).toEqual(['applied']);
      expect(result.writes[0].rows[0]).toMatchObject({ isNew: false, version: 2000, deletedAt: null });
      expect(result.changes[0].change).toMatchObject({
        action: 'updated',
        changes: { name: { from: 'Write docs', to: 'Renamed' } },
      });
    });

    it('writes a newer version without a visible change silently', () => {
      const message = live('1', 2000);
      const result = plan([message], new Map([['tasks/1', storedRow(1000, null, { gid: '1' })]]));
      expect(result.outcomes).toEqual(['applied-silently']);
      expect(result.writes[0].rows[0]).toMatchObject({ version: 2000, state: message.state });
      expect(result.changes).toEqual([]);
    });

    it.each([
      ['an older version', 500, 'stale'],
      ['the same version', 1000, 'duplicate'],
    ])('writes nothing for %s', (_name, version, outcome) => {
      const result = plan([live('1', version, { name: 'Other' })], new Map([['tasks/1', storedRow(1000)]]));
      expect(result).toEqual({ outcomes: [outcome], writes: [], changes: [] });
    });

    it('tombstones a live row: keeps its last state and columns, deleted now, a deleted change', () => {
      const stored = storedRow(1000, null, { name: 'Doomed', completed: true });
      const result = plan([tombstone('1', 2000)], new Map([['tasks/1', stored]]));
      expect(result.outcomes).toEqual(['applied']);
      expect(result.writes[0].rows[0]).toEqual({
        gid: '1',
        isNew: false,
        version: 2000,
        state: stored.state,
        deletedAt: NOW,
        columns: { name: 'Doomed', completed: true, assignee_gid: null, workspace_gid: null },
      });
      expect(result.changes[0].change).toMatchObject({ action: 'deleted', changes: {}, state: null, version: 2000 });
    });

    it('moves a deleted row to a newer tombstone silently, keeping when it was deleted', () => {
      const result = plan([tombstone('1', 3000)], new Map([['tasks/1', storedRow(2000, EARLIER)]]));
      expect(result.outcomes).toEqual(['applied-silently']);
      expect(result.writes[0].rows[0]).toMatchObject({ version: 3000, deletedAt: EARLIER });
      expect(result.changes).toEqual([]);
    });

    it('records the tombstone of an unseen resource with its identity, so a stale state cannot create it', () => {
      const result = plan([tombstone('1', 1000, 'story')]);
      expect(result.outcomes).toEqual(['applied']);
      expect(result.writes[0].table.name).toBe('resources');
      expect(result.writes[0].rows[0]).toEqual({
        gid: '1',
        isNew: true,
        version: 1000,
        state: { gid: '1', resource_type: 'story' },
        deletedAt: NOW,
        columns: { type: 'story' },
      });
      expect(result.changes[0].change).toMatchObject({ action: 'deleted', state: null });
    });

    it('uses the state a tombstone still carries', () => {
      const message: ResourceStateMessage = { ...tombstone('1', 2000), state: { gid: '1', name: 'Last' } };
      const result = plan([message], new Map([['tasks/1', storedRow(1000)]]));
      expect(result.writes[0].rows[0]).toMatchObject({ state: { gid: '1', name: 'Last' }, deletedAt: NOW });
      expect(result.writes[0].rows[0].columns).toMatchObject({ name: 'Last' });
    });

    it('undeletes on a newer live state, with the fields changed since the last state seen', () => {
      const result = plan([live('1', 3000, { name: 'Back' })], new Map([['tasks/1', storedRow(2000, EARLIER)]]));
      expect(result.outcomes).toEqual(['applied']);
      expect(result.writes[0].rows[0]).toMatchObject({ version: 3000, deletedAt: null, columns: { name: 'Back' } });
      expect(result.changes[0].change).toMatchObject({
        action: 'undeleted',
        changes: { name: { from: 'Write docs', to: 'Back' } },
      });
    });

    it('never resurrects a deleted row with a stale live state', () => {
      const result = plan([live('1', 1500)], new Map([['tasks/1', storedRow(2000, EARLIER)]]));
      expect(result).toEqual({ outcomes: ['stale'], writes: [], changes: [] });
    });
  });

  describe("a gid's messages in one batch", () => {
    it('decides each against what the earlier one left: one row write, a change per step', () => {
      const result = plan([
        live('1', 1000),
        live('1', 2000, { name: 'Renamed' }),
        live('1', 3000, { name: 'Renamed', completed: true }),
      ]);
      expect(result.outcomes).toEqual(['applied', 'applied', 'applied']);
      expect(result.writes[0].rows).toHaveLength(1);
      expect(result.writes[0].rows[0]).toMatchObject({
        isNew: true,
        version: 3000,
        columns: { name: 'Renamed', completed: true },
      });
      expect(result.changes.map((c) => [c.change.action, c.change.changes])).toEqual([
        ['created', expect.objectContaining({ name: { from: null, to: 'Write docs' } })],
        ['updated', { name: { from: 'Write docs', to: 'Renamed' } }],
        ['updated', { completed: { from: false, to: true } }],
      ]);
    });

    it('drops duplicates and older versions arriving after newer ones', () => {
      const result = plan([
        live('1', 2000),
        live('1', 2000),
        live('1', 1000, { name: 'Older' }),
        live('1', 3000),
        live('1', 2500),
      ]);
      expect(result.outcomes).toEqual(['applied', 'duplicate', 'stale', 'applied-silently', 'stale']);
      expect(result.writes[0].rows[0]).toMatchObject({ version: 3000, columns: { name: 'Write docs' } });
      expect(actions(result.changes)).toEqual([['1', 'created', 2000]]);
    });

    it('deletes and undeletes within the batch, each change once, relative to the last state seen', () => {
      const result = plan(
        [live('1', 2000, { name: 'Before' }), tombstone('1', 3000), tombstone('1', 4000), live('1', 5000)],
        new Map([['tasks/1', storedRow(1000)]]),
      );
      expect(result.outcomes).toEqual(['applied', 'applied', 'applied-silently', 'applied']);
      expect(actions(result.changes)).toEqual([
        ['1', 'updated', 2000],
        ['1', 'deleted', 3000],
        ['1', 'undeleted', 5000],
      ]);
      expect(result.changes[2].change.changes).toEqual({ name: { from: 'Before', to: 'Write docs' } });
      expect(result.writes[0].rows[0]).toMatchObject({ isNew: false, version: 5000, deletedAt: null });
    });

    it('keeps the stored deletion time across tombstones, and the first tombstone of the batch otherwise', () => {
      const stored = plan([tombstone('1', 3000)], new Map([['tasks/1', storedRow(2000, EARLIER)]]));
      expect(stored.writes[0].rows[0].deletedAt).toBe(EARLIER);
      const fresh = plan([live('1', 1000), tombstone('1', 2000), tombstone('1', 3000)]);
      expect(fresh.writes[0].rows[0]).toMatchObject({ version: 3000, deletedAt: NOW, isNew: true });
      expect(fresh.writes[0].rows[0].state).toEqual(live('1', 1000).state);
    });
  });

  describe('several gids and tables', () => {
    it('keeps changes in decision order and writes each table once, rows by gid, tables in a fixed order', () => {
      const result = plan([
        live('30', 1000, {}, 'section'),
        live('20', 1000),
        live('10', 1000, { archived: true }, 'project'),
        live('20', 2000, { name: 'Renamed' }),
        live('05', 1000),
        live('30', 2000, { name: 'Backlog' }, 'section'),
      ]);
      expect(actions(result.changes)).toEqual([
        ['30', 'created', 1000],
        ['20', 'created', 1000],
        ['10', 'created', 1000],
        ['20', 'updated', 2000],
        ['05', 'created', 1000],
        ['30', 'updated', 2000],
      ]);
      expect(result.writes.map((w) => [w.table.name, w.rows.map((r) => [r.gid, r.version])])).toEqual([
        [
          'tasks',
          [
            ['05', 1000],
            ['20', 2000],
          ],
        ],
        ['projects', [['10', 1000]]],
        ['resources', [['30', 2000]]],
      ]);
      expect(result.writes[1].rows[0].columns).toEqual({ name: 'Write docs', archived: true, workspace_gid: null });
      expect(result.writes[2].rows[0].columns).toEqual({ type: 'section' });
    });

    it("keeps a gid's rows per table apart: a type change is a row in each table", () => {
      const store: Store = new Map([['tasks/1', storedRow(1000)]]);
      const result = plan([live('1', 2000, {}, 'tag'), live('1', 1000)], store);
      expect(result.outcomes).toEqual(['applied', 'duplicate']);
      expect(result.writes.map((w) => [w.table.name, w.rows[0].isNew])).toEqual([['resources', true]]);
    });

    it('writes the type of the latest applied message into resources', () => {
      const result = plan([live('1', 1000, {}, 'tag'), live('1', 2000, {}, 'story')]);
      expect(result.writes[0].rows[0].columns).toEqual({ type: 'story' });
    });

    it('reads each stored row once, by table and gid', () => {
      const stored = jest.fn(() => undefined);
      planProjection(
        [live('1', 1000), live('1', 2000), live('1', 3000, {}, 'project'), live('2', 1000)].map((message) => ({
          message,
        })),
        stored,
        NOW,
      );
      expect(stored.mock.calls).toEqual([
        ['tasks', '1'],
        ['projects', '1'],
        ['tasks', '2'],
      ]);
    });

    it("carries each message's trace context to its change", () => {
      const items: StateToApply[] = [
        { message: live('1', 1000), traceparent: 'tp-1' },
        { message: live('1', 2000, { name: 'x' }), traceparent: null },
        { message: live('2', 1000), traceparent: 'tp-3' },
      ];
      expect(planProjection(items, () => undefined, NOW).changes.map((c) => c.traceparent)).toEqual([
        'tp-1',
        null,
        'tp-3',
      ]);
    });
  });

  describe('equals applying the messages one by one', () => {
    /** Applies each message as a batch of one, keeping the store as the database would. */
    function oneByOne(messages: ResourceStateMessage[], store: Store): ProjectionPlan {
      const outcomes: ProjectionPlan['outcomes'] = [];
      const changes: PlannedChange[] = [];
      for (const message of messages) {
        const step = plan([message], store);
        outcomes.push(...step.outcomes);
        changes.push(...step.changes);
        for (const { table, rows } of step.writes) {
          for (const row of rows) {
            const key = `${table.name}/${row.gid}`;
            const before = store.get(key);
            store.set(key, {
              version: row.version,
              state: row.state,
              deletedAt: row.deletedAt === null ? null : (before?.deletedAt ?? row.deletedAt),
            });
          }
        }
      }
      return { outcomes, writes: [], changes };
    }

    /** A small deterministic generator (mulberry32), so a failure names its seed. */
    function random(seed: number): () => number {
      let a = seed;
      return () => {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    it.each(Array.from({ length: 200 }, (_, seed) => seed))('for random batch %i', (seed) => {
      const next = random(seed);
      const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)];
      const gids = ['1', '2', '3', '4'];
      const types = ['task', 'task', 'project', 'section'];
      const names = ['a', 'b', 'c'];
      const messages: ResourceStateMessage[] = Array.from({ length: 1 + Math.floor(next() * 40) }, () => {
        const gid = pick(gids);
        const version = 1000 * (1 + Math.floor(next() * 8));
        const type = next() < 0.9 ? types[gids.indexOf(gid)] : pick(types);
        return next() < 0.25 ? tombstone(gid, version, type) : live(gid, version, { name: pick(names) }, type);
      });
      const stored: Store = new Map();
      for (const gid of gids) {
        const type = types[gids.indexOf(gid)];
        const table = type === 'task' ? 'tasks' : type === 'project' ? 'projects' : 'resources';
        if (next() < 0.5) {
          stored.set(
            `${table}/${gid}`,
            storedRow(1000 * Math.floor(next() * 6), next() < 0.3 ? EARLIER : null, { gid, name: pick(names) }),
          );
        }
      }
      const batch = plan(messages, new Map(stored));
      const reference = new Map(stored);
      const sequential = oneByOne(messages, reference);
      expect(batch.outcomes).toEqual(sequential.outcomes);
      expect(batch.changes).toEqual(sequential.changes);
      // What the batch writes is what one-by-one leaves; what it does not write is unchanged.
      const after = new Map(stored);
      for (const { table, rows } of batch.writes) {
        for (const row of rows) {
          expect(row.isNew).toBe(!stored.has(`${table.name}/${row.gid}`));
          after.set(`${table.name}/${row.gid}`, { version: row.version, state: row.state, deletedAt: row.deletedAt });
        }
      }
      expect(after).toEqual(reference);
    });
  });
});

describe('gidsByTable', () => {
  it('lists each table the batch touches once, in the fixed order, with its gids unique and sorted', () => {
    const items = [
      live('9', 1, {}, 'section'),
      live('3', 1),
      live('1', 1, {}, 'project'),
      live('3', 2),
      live('10', 1),
      live('2', 1, {}, 'tag'),
    ].map((message) => ({ message }));
    expect(gidsByTable(items).map(({ table, gids }) => [table.name, gids])).toEqual([
      ['tasks', ['10', '3']],
      ['projects', ['1']],
      ['resources', ['2', '9']],
    ]);
  });

  it('is empty for an empty batch', () => {
    expect(gidsByTable([])).toEqual([]);
  });
});
