import { PROJECTION_TABLES, projectionTableFor } from './projection-tables';

describe('projectionTableFor', () => {
  it.each([
    ['task', 'tasks'],
    ['project', 'projects'],
    ['section', 'resources'],
    ['story', 'resources'],
    ['constructor', 'resources'],
    ['__proto__', 'resources'],
    ['toString', 'resources'],
  ])('puts a %s into %s', (type, table) => {
    expect(projectionTableFor(type).name).toBe(table);
  });

  it('lists every table once, in the order batches lock them', () => {
    expect(PROJECTION_TABLES.map((table) => table.name)).toEqual(['tasks', 'projects', 'resources']);
  });

  it("reads each table's query columns from the state, and only those it declares", () => {
    const state = {
      gid: '1',
      name: 'N',
      completed: true,
      archived: false,
      assignee: { gid: '42' },
      workspace: { gid: '7' },
    };
    for (const table of PROJECTION_TABLES) {
      expect(Object.keys(table.columns(state, 'tag'))).toEqual(table.queryColumns.map((column) => column.name));
    }
    expect(projectionTableFor('task').columns(state, 'task')).toEqual({
      name: 'N',
      completed: true,
      assignee_gid: '42',
      workspace_gid: '7',
    });
    expect(projectionTableFor('project').columns(state, 'project')).toEqual({
      name: 'N',
      archived: false,
      workspace_gid: '7',
    });
    expect(projectionTableFor('tag').columns(state, 'tag')).toEqual({ type: 'tag' });
  });

  it('reads fields of the wrong shape, or no state at all, as null', () => {
    const odd = { gid: '1', name: 5, completed: 'yes', assignee: '42', workspace: { gid: 7 } };
    expect(projectionTableFor('task').columns(odd, 'task')).toEqual({
      name: null,
      completed: null,
      assignee_gid: null,
      workspace_gid: null,
    });
    expect(projectionTableFor('project').columns(null, 'project')).toEqual({
      name: null,
      archived: null,
      workspace_gid: null,
    });
  });
});
