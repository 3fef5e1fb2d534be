import type { AsanaResource } from '@asana-stream/asana';
import { seededInts } from '@asana-stream/testing';
import { changeJson, outboxCopyData, type OutboxRow } from './outbox-copy';
import { stateJsonOnce } from './state-json';

const outboxCopyText = (changes: OutboxRow[]) => outboxCopyData(changes).toString('utf8');

describe('outboxCopyData', () => {
  const row = (overrides: Partial<OutboxRow> = {}): OutboxRow => ({
    gid: '1200',
    type: 'task',
    change: {
      schema: 1,
      gid: '1200',
      type: 'task',
      action: 'updated',
      version: 1_763_856_000_000,
      changes: { name: { from: 'a', to: 'b\\c "quoted"\nline' } },
      state: { gid: '1200', resource_type: 'task', name: 'b\\c "quoted"\nline' },
      causes: ['e1'],
      occurredAt: '2025-11-23T00:00:00.000Z',
    },
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    eventAt: '2025-11-23T00:00:00.000Z',
    ...overrides,
  });

  it('writes one line per change, in the order given, fields tab-separated', () => {
    const text = outboxCopyText([row({ gid: '1' }), row({ gid: '2' }), row({ gid: '3' })]);
    const lines = text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => line.split('\t')[0])).toEqual(['1', '2', '3']);
    expect(lines.every((line) => line.split('\t').length === 5)).toBe(true);
  });

  it('keeps the change as its JSON, backslashes doubled, so COPY reads back exactly that JSON', () => {
    const [, , change] = outboxCopyText([row()]).slice(0, -1).split('\t');
    // COPY's text format turns `\\` back into `\`: undoing that gives the JSON, which gives the change.
    expect(JSON.parse(change.replaceAll('\\\\', '\\'))).toEqual(row().change);
  });

  it('writes an unknown trace context and event time as null', () => {
    const fields = outboxCopyText([row({ traceparent: null, eventAt: undefined })])
      .slice(0, -1)
      .split('\t');
    expect(fields.slice(3)).toEqual(['\\N', '\\N']);
  });

  it('is empty for no changes', () => {
    expect(outboxCopyText([])).toBe('');
  });

  it('encodes non-ASCII text as UTF-8', () => {
    const name = 'Tâche 🚀';
    const text = outboxCopyText([
      row({ change: { ...row().change, state: { gid: '1200', resource_type: 'task', name } } }),
    ]);
    const [, , change] = text.slice(0, -1).split('\t');
    expect((JSON.parse(change.replaceAll('\\\\', '\\')) as { state: { name: string } }).state.name).toBe(name);
  });
});

describe('changeJson', () => {
  type Change = OutboxRow['change'];
  const TEXTS = ['', 'plain', 'tab\t', 'line\nbreak', 'back\\slash', '"quoted"', '\\N', 'é 🚀', '\u0001', '{"json":1}'];

  /** Changes of every action, with states and field changes drawn from awkward text and values. */
  function changes(count: number): Change[] {
    const next = seededInts(20261203);
    const pick = <T>(values: readonly T[]): T => values[next(values.length)];
    const value = (depth: number): unknown =>
      pick<() => unknown>([
        () => pick(TEXTS),
        () => next(1000) - 500,
        () => next(2) === 1,
        () => null,
        () => (depth > 1 ? 'leaf' : Array.from({ length: next(3) }, () => value(depth + 1))),
        () => (depth > 1 ? 0 : { gid: String(next(1e6)), name: pick(TEXTS), nested: value(depth + 1) }),
      ])();
    return Array.from({ length: count }, (_, n) => {
      const action = pick(['created', 'updated', 'deleted', 'undeleted'] as const);
      const state: AsanaResource | null =
        action === 'deleted'
          ? null
          : Object.fromEntries([
              ['gid', String(n)],
              ...Array.from({ length: next(6) }, () => [pick(TEXTS) || 'k', value(0)]),
            ]);
      return {
        schema: 1,
        gid: String(n),
        type: pick(['task', 'project', 'story']),
        action,
        version: 1_763_856_000_000 + next(1e6),
        changes: Object.fromEntries(
          Array.from({ length: next(4) }, () => [pick(TEXTS) || 'f', { from: value(0), to: value(0) }]),
        ),
        state,
        causes: Array.from({ length: 1 + next(3) }, () => pick(TEXTS)),
        occurredAt: new Date(1_763_856_000_000 + next(1e9)).toISOString(),
      };
    });
  }

  it('writes 2,000 generated changes exactly as JSON.stringify does, with and without the batch’s state JSON', () => {
    const all = changes(2000);
    const stateJson = stateJsonOnce();
    expect(all.map((change) => changeJson(change))).toEqual(all.map((change) => JSON.stringify(change)));
    expect(all.map((change) => changeJson(change, stateJson))).toEqual(all.map((change) => JSON.stringify(change)));
    expect(new Set(all.map((change) => change.action))).toEqual(
      new Set(['created', 'updated', 'deleted', 'undeleted']),
    );
  });

  it("takes the state's text from the batch's JSON of it", () => {
    const [change] = changes(1).map((c) => ({ ...c, action: 'created' as const, state: { gid: '0' } }));
    expect(JSON.parse(changeJson(change, () => '{"gid":"0","from":"memo"}'))).toEqual({
      ...change,
      state: { gid: '0', from: 'memo' },
    });
  });
});
