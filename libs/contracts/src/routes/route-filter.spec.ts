import { changeTopic } from '../topology';
import {
  matchingRoutes,
  routeFilterProblems,
  routeMatches,
  routeTopic,
  type RoutableChange,
  type RouteFilter,
} from './route-filter';

/** A task change as the projector writes it. */
function task(overrides: Partial<RoutableChange> = {}): RoutableChange {
  return {
    type: 'task',
    action: 'updated',
    changes: { assignee: { from: null, to: { gid: '123' } } },
    state: {
      gid: '900',
      resource_type: 'task',
      assignee: { gid: '123', resource_type: 'user' },
      completed: false,
      projects: [{ gid: '1200' }],
      memberships: [{ project: { gid: '1300' }, section: { gid: '77' } }],
      custom: { priority: 3, flagged: true },
    },
    ...overrides,
  };
}

describe('routeMatches', () => {
  it('matches every change with an empty filter', () => {
    expect(routeMatches({}, task())).toBe(true);
    expect(routeMatches({}, { type: 'story', action: 'deleted', changes: {}, state: null })).toBe(true);
  });

  it.each<[string, RouteFilter, boolean]>([
    ['its type', { types: ['project', 'task'] }, true],
    ['another type', { types: ['project'] }, false],
    ['its action', { actions: ['updated'] }, true],
    ['another action', { actions: ['created', 'deleted'] }, false],
    ['a project in state.projects', { projects: ['1200'] }, true],
    ['a project in state.memberships', { projects: ['1300'] }, true],
    ['a project it is not in', { projects: ['1400'] }, false],
    ['a changed field', { fields: ['completed', 'assignee'] }, true],
    ['a field that did not change', { fields: ['completed'] }, false],
    ['a new value', { where: { 'assignee.gid': '123' } }, true],
    ['a new value written as a number', { where: { 'assignee.gid': 123 } }, true],
    ['another value', { where: { 'assignee.gid': '124' } }, false],
    ['a boolean', { where: { completed: false } }, true],
    ['a nested number', { where: { 'custom.priority': 3, 'custom.flagged': true } }, true],
    ['one of several values wrong', { where: { 'custom.priority': 3, 'custom.flagged': false } }, false],
    ['a value inside an array', { where: { 'projects.gid': '1200' } }, true],
    ['a value inside an array of objects, deeper', { where: { 'memberships.section.gid': '77' } }, true],
    ['null for a missing field', { where: { due_on: null } }, true],
    ['null for a present field', { where: { completed: null } }, false],
    ['a path through a scalar', { where: { 'completed.gid': '1' } }, false],
    ['an object where a scalar is asked', { where: { assignee: '123' } }, false],
  ])('decides on %s', (_what, filter, expected) => {
    expect(routeMatches(filter, task())).toBe(expected);
  });

  it('needs every criterion to hold', () => {
    const filter: RouteFilter = { types: ['task'], actions: ['updated'], projects: ['1200'], fields: ['assignee'] };
    expect(routeMatches(filter, task())).toBe(true);
    expect(routeMatches({ ...filter, types: ['project'] }, task())).toBe(false);
    expect(routeMatches({ ...filter, actions: ['created'] }, task())).toBe(false);
    expect(routeMatches({ ...filter, projects: ['9'] }, task())).toBe(false);
    expect(routeMatches({ ...filter, fields: ['name'] }, task())).toBe(false);
    expect(routeMatches({ ...filter, where: { 'assignee.gid': '9' } }, task())).toBe(false);
  });

  it('sees a task leave a project through changes.<field>.from', () => {
    const moved = task({
      changes: {
        projects: { from: [{ gid: '1200' }], to: [{ gid: '1500' }] },
        memberships: { from: [{ project: { gid: '1600' } }], to: [] },
      },
      state: { gid: '900', projects: [{ gid: '1500' }], memberships: [] },
    });
    expect(routeMatches({ projects: ['1200'] }, moved)).toBe(true);
    expect(routeMatches({ projects: ['1500'] }, moved)).toBe(true);
    expect(routeMatches({ projects: ['1600'] }, moved)).toBe(true);
    expect(routeMatches({ projects: ['1700'] }, moved)).toBe(false);
  });

  it('treats a deleted change without state as in no project and with no field values', () => {
    const deleted: RoutableChange = { type: 'task', action: 'deleted', changes: {}, state: null };
    expect(routeMatches({ projects: ['1200'] }, deleted)).toBe(false);
    expect(routeMatches({ where: { 'assignee.gid': '123' } }, deleted)).toBe(false);
    expect(routeMatches({ where: { 'assignee.gid': null } }, deleted)).toBe(true);
    expect(routeMatches({ fields: ['name'] }, deleted)).toBe(false);
    expect(routeMatches({ actions: ['deleted'], types: ['task'] }, deleted)).toBe(true);
  });

  it('reads malformed shapes without throwing', () => {
    const odd: RoutableChange = {
      type: 'task',
      action: 'updated',
      changes: null,
      state: { projects: 'not a list', memberships: [null, { project: 'x' }, { project: { gid: 5 } }] },
    };
    expect(routeMatches({ projects: ['5'] }, odd)).toBe(false);
    expect(routeMatches({ fields: ['name'] }, odd)).toBe(false);
    expect(routeMatches({ where: { 'projects.gid': '1' } }, odd)).toBe(false);
  });

  it('lists the routes a change belongs on, in order', () => {
    const routes = [
      { name: 'a', filter: { types: ['task'] } },
      { name: 'b', filter: { types: ['project'] } },
      { name: 'c', filter: { projects: ['1200'] } },
    ];
    expect(matchingRoutes(routes, task()).map((r) => r.name)).toEqual(['a', 'c']);
    expect(matchingRoutes([], task())).toEqual([]);
  });
});

describe('routeTopic', () => {
  it('is asana.routes.<name> with the change topics’ partitions and configs (a gid keeps its partition)', () => {
    const topic = routeTopic('billing');
    expect(topic.name).toBe('asana.routes.billing');
    expect(topic.partitions).toBe(changeTopic('task').partitions);
    expect(topic.configs).toEqual(changeTopic('task').configs);
  });
});

describe('routeFilterProblems', () => {
  it('accepts a valid filter', () => {
    expect(
      routeFilterProblems({
        types: ['task'],
        actions: ['created', 'undeleted'],
        projects: ['1200'],
        fields: ['assignee'],
        where: { 'assignee.gid': '123', completed: false, n: 2, gone: null },
      }),
    ).toEqual([]);
    expect(routeFilterProblems({})).toEqual([]);
  });

  it.each<[string, unknown, string]>([
    ['not a mapping', ['task'], 'filter: must be a mapping'],
    ['an unknown criterion', { type: ['task'] }, 'filter.type: unknown criterion'],
    ['a list that is a string', { types: 'task' }, 'filter.types: must be a non-empty list'],
    ['an empty list', { actions: [] }, 'filter.actions: must be a non-empty list'],
    ['a bad action', { actions: ['moved'] }, 'filter.actions[0]: "moved" is not one of created'],
    ['a gid that is a number', { projects: [1200] }, 'filter.projects[0]: 1200 is not one of project gids'],
    ['a bad type', { types: ['Task!'] }, 'filter.types[0]'],
    ['a bad field', { fields: ['a b'] }, 'filter.fields[0]'],
    ['an empty where', { where: {} }, 'filter.where: must be a non-empty mapping'],
    ['a bad path', { where: { 'a..b': '1' } }, 'filter.where.a..b: a path is'],
    ['an object value', { where: { assignee: { gid: '1' } } }, 'filter.where.assignee: the value must be'],
  ])('names the field of %s', (_what, filter, problem) => {
    expect(routeFilterProblems(filter).join('\n')).toContain(problem);
  });
});
