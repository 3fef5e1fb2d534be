import type { PlannedRow } from './projection-plan';
import { projectionCopyData, projectionCopySql } from './projection-copy';
import { projectionTableFor } from './projection-tables';

const UPDATED_AT = '2026-11-22T10:00:00.000Z';

/** The fields of each line, as COPY's text format reads them back (`\N` null, escapes undone). */
function fieldsOf(data: Buffer): (string | null)[][] {
  const unescape = (field: string) =>
    field === '\\N'
      ? null
      : field.replace(/\\(.)/g, (_escape, char: string) => ({ n: '\n', r: '\r', t: '\t' })[char] ?? char);
  const text = data.toString('utf8');
  expect(text.endsWith('\n') || text === '').toBe(true);
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => line.split('\t').map(unescape));
}

function row(overrides: Partial<PlannedRow> = {}): PlannedRow {
  return {
    gid: '1200',
    isNew: true,
    version: 1_763_856_000_000,
    state: { gid: '1200', resource_type: 'task', name: 'Write docs' },
    deletedAt: null,
    columns: { name: 'Write docs', completed: false, assignee_gid: '42', workspace_gid: '1100' },
    ...overrides,
  };
}

describe('projectionCopySql', () => {
  it.each([
    [
      'task',
      'COPY tasks (gid, state, version, deleted_at, updated_at, name, completed, assignee_gid, workspace_gid) FROM STDIN',
    ],
    [
      'project',
      'COPY projects (gid, state, version, deleted_at, updated_at, name, archived, workspace_gid) FROM STDIN',
    ],
    ['story', 'COPY resources (gid, state, version, deleted_at, updated_at, type) FROM STDIN'],
  ])("names a %s's table and every column a write fills", (type, sql) => {
    expect(projectionCopySql(projectionTableFor(type))).toBe(sql);
  });
});

describe('projectionCopyData', () => {
  const tasks = projectionTableFor('task');

  it('writes one line per row in the order given, its fields in the COPY statement’s column order', () => {
    const data = projectionCopyData(tasks, [row({ gid: '1' }), row({ gid: '2', version: 5 })], UPDATED_AT);
    expect(fieldsOf(data)).toEqual([
      ['1', JSON.stringify(row().state), '1763856000000', null, UPDATED_AT, 'Write docs', 'f', '42', '1100'],
      ['2', JSON.stringify(row().state), '5', null, UPDATED_AT, 'Write docs', 'f', '42', '1100'],
    ]);
  });

  it('writes booleans as t and f, absent and null query values as null', () => {
    const data = projectionCopyData(
      tasks,
      [
        row({ columns: { name: null, completed: true, assignee_gid: null } }),
        row({ columns: { name: 'n', completed: null, assignee_gid: '7', workspace_gid: '8' } }),
      ],
      UPDATED_AT,
    );
    expect(fieldsOf(data).map((fields) => fields.slice(5))).toEqual([
      [null, 't', null, null],
      ['n', null, '7', '8'],
    ]);
  });

  it("writes a tombstone's deletion time in ISO 8601", () => {
    const data = projectionCopyData(tasks, [row({ deletedAt: new Date('2026-11-22T09:00:00.250Z') })], UPDATED_AT);
    expect(fieldsOf(data)[0][3]).toBe('2026-11-22T09:00:00.250Z');
  });

  it('keeps the state as its JSON, whatever COPY escapes or JSON quotes', () => {
    const name = 'tab\there\nnew line\r\\N back\\slash "quoted" é 🚀';
    const state = { gid: '1200', resource_type: 'task', name };
    const [fields] = fieldsOf(projectionCopyData(tasks, [row({ state, columns: { name } })], UPDATED_AT));
    expect(JSON.parse(fields[1]!)).toEqual(state);
    expect(fields[5]).toBe(name);
    // One line per row: every newline and tab inside a field is escaped.
    expect(
      projectionCopyData(tasks, [row({ state, columns: { name } })], UPDATED_AT)
        .toString()
        .split('\n'),
    ).toHaveLength(2);
  });

  it("writes a generic table's type column", () => {
    const resources = projectionTableFor('story');
    const data = projectionCopyData(resources, [row({ columns: { type: 'story' } })], UPDATED_AT);
    expect(fieldsOf(data)[0]).toHaveLength(6);
    expect(fieldsOf(data)[0][5]).toBe('story');
  });

  it('is empty for no rows', () => {
    expect(projectionCopyData(tasks, [], UPDATED_AT).length).toBe(0);
  });
});
