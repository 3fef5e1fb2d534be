import { parseRouteFile, RouteFileError } from './route-file';

function problemsOf(text: string): string[] {
  try {
    parseRouteFile(text, 'routes.yaml');
  } catch (error) {
    if (error instanceof RouteFileError) return error.problems;
    throw error;
  }
  throw new Error('expected the file to be refused');
}

describe('parseRouteFile', () => {
  it('reads every route with its filter', () => {
    const text = `# the billing team's routes
routes:
  - name: billing-tasks
    filter:
      types: [task]
      actions: [created, updated]
      projects: ['1200']
      fields: [assignee]
      where:
        assignee.gid: '42'
        completed: false
  - name: everything
    filter: {}
`;
    expect(parseRouteFile(text, 'routes.yaml')).toEqual([
      {
        name: 'billing-tasks',
        filter: {
          types: ['task'],
          actions: ['created', 'updated'],
          projects: ['1200'],
          fields: ['assignee'],
          where: { 'assignee.gid': '42', completed: false },
        },
      },
      { name: 'everything', filter: {} },
    ]);
  });

  it('reads an empty list: no routes at all', () => {
    expect(parseRouteFile('routes: []\n', 'routes.yaml')).toEqual([]);
  });

  it.each([
    ['YAML that does not parse', 'routes:\n  - name: a\n   filter: [\n', 'routes.yaml:3: not valid YAML'],
    ['a file that is a list', '- name: a\n', 'routes.yaml:1: a route file is a mapping with one key, routes'],
    ['an empty file', '', 'routes.yaml:1: a route file is a mapping'],
    ['an unknown top-level key', 'routes: []\nroute: []\n', 'routes.yaml:2: route: unknown key'],
    ['routes that is not a list', 'routes:\n  name: a\n', 'routes.yaml:2: routes: must be a list'],
    ['a route that is not a mapping', 'routes:\n  - billing\n', 'routes.yaml:2: routes[0]: a route is a mapping'],
    [
      'a bad name',
      'routes:\n  - name: Billing Tasks\n    filter: {}\n',
      'routes.yaml:2: routes[0] (Billing Tasks) name: 1 to 63',
    ],
    ['a missing name', 'routes:\n  - filter: {}\n', 'routes.yaml:2: routes[0] name:'],
    [
      'a duplicate name',
      'routes:\n  - name: a\n    filter: {}\n  - name: a\n    filter: {}\n',
      'routes.yaml:4: routes[1] (a) name: a second route named a',
    ],
    ['a missing filter', 'routes:\n  - name: a\n', 'routes.yaml:2: routes[0] (a) filter: missing'],
    [
      'an unknown route key',
      'routes:\n  - name: a\n    filter: {}\n    topic: x\n',
      'routes.yaml:4: routes[0] (a) topic: unknown key',
    ],
    [
      'an unknown criterion',
      'routes:\n  - name: a\n    filter:\n      type: [task]\n',
      'routes.yaml:4: routes[0] (a) filter.type: unknown criterion',
    ],
    [
      'a bad list item, on its own line',
      'routes:\n  - name: a\n    filter:\n      actions:\n        - created\n        - moved\n',
      'routes.yaml:6: routes[0] (a) filter.actions[1]: "moved" is not one of created',
    ],
    [
      'a project gid written as a number',
      'routes:\n  - name: a\n    filter:\n      projects: [1200]\n',
      'routes.yaml:4: routes[0] (a) filter.projects[0]: 1200 is not one of project gids',
    ],
    [
      'a where value that is a mapping',
      'routes:\n  - name: a\n    filter:\n      where:\n        assignee: { gid: "1" }\n',
      'routes.yaml:5: routes[0] (a) filter.where.assignee: the value must be',
    ],
    ['a duplicate key', 'routes: []\nroutes: []\n', 'routes.yaml:2: not valid YAML'],
  ])('refuses %s, naming the line and field', (_what, text, problem) => {
    expect(problemsOf(text).join('\n')).toContain(problem);
  });

  it('reports every problem of a file at once', () => {
    const text = 'routes:\n  - name: A\n    filter: {}\n  - name: b\n    filter:\n      types: []\n';
    const problems = problemsOf(text);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^routes\.yaml:2: /);
    expect(problems[1]).toMatch(/^routes\.yaml:6: routes\[1\] \(b\) filter\.types: must be a non-empty list/);
  });
});
