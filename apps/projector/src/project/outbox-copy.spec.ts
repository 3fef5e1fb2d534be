import { outboxCopyData, type OutboxRow } from './outbox-copy';

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
