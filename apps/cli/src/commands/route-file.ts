import { isMap, isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { ROUTE_NAME, routeFilterProblems, type Route, type RouteFilter } from '@asana-stream/contracts';

/** A route file that cannot be applied: every problem, each as `file:line: where: what`. */
export class RouteFileError extends Error {
  override readonly name = 'RouteFileError';

  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

/** What a route file looks like, for the error that says a file is not one. */
export const ROUTE_FILE_EXAMPLE = `routes:
  - name: billing-tasks
    filter:
      types: [task]
      projects: ['1200000000000001']
      fields: [assignee, completed]
      where: { assignee.gid: '1200000000000042' }`;

type Path = (string | number)[];

/** The node path (under the route) of a problem `routeFilterProblems` reported. */
function problemPath(problem: string): Path {
  const listItem = /^filter\.(types|actions|projects|fields)\[(\d+)\]/.exec(problem);
  if (listItem) return ['filter', listItem[1], Number(listItem[2])];
  const where = /^filter\.where\.(.+?): /.exec(problem);
  if (where) return ['filter', 'where', where[1]];
  const key = /^filter\.([A-Za-z0-9_-]+)/.exec(problem);
  if (key) return ['filter', key[1]];
  return ['filter'];
}

/**
 * Reads a routes file (YAML): `routes:`, a list of `{name, filter}`; the file is the whole set of
 * routes. Refuses anything else with every problem found, each with its line and field, so an
 * operator fixes the file in one go. Pure: the text in, the routes out.
 */
export function parseRouteFile(text: string, file: string): Route[] {
  const lines = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined): string => `${file}:${offset === undefined ? 1 : lines.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    throw new RouteFileError(doc.errors.map((e) => `${at(e.pos[0])}: not valid YAML: ${e.message.split('\n')[0]}`));
  }
  const lineOf = (path: Path): string => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return at(node.range[0]);
    }
    return at(undefined);
  };
  const body: unknown = doc.toJS();
  const shape = `a route file is a mapping with one key, routes, a list of routes:\n${ROUTE_FILE_EXAMPLE}`;
  if (!isMap(doc.contents) || typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RouteFileError([`${at(undefined)}: ${shape}`]);
  }
  const problems: string[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'routes') problems.push(`${lineOf([key])}: ${key}: unknown key; ${shape}`);
  }
  const list = (body as { routes?: unknown }).routes;
  if (!Array.isArray(list)) {
    problems.push(
      `${lineOf(['routes'])}: routes: must be a list (\`routes: []\` deletes every route); ${shape.split('\n')[0]}`,
    );
    throw new RouteFileError(problems);
  }
  const routes: Route[] = [];
  const seen = new Set<string>();
  list.forEach((item: unknown, i) => {
    const path: Path = ['routes', i];
    const record =
      typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : null;
    if (!record) {
      problems.push(`${lineOf(path)}: routes[${i}]: a route is a mapping with name and filter`);
      return;
    }
    const name = record.name;
    const label = `routes[${i}]${typeof name === 'string' ? ` (${name})` : ''}`;
    for (const key of Object.keys(record)) {
      if (key !== 'name' && key !== 'filter') {
        problems.push(`${lineOf([...path, key])}: ${label} ${key}: unknown key; a route has name and filter`);
      }
    }
    if (typeof name !== 'string' || !ROUTE_NAME.test(name)) {
      problems.push(
        `${lineOf([...path, 'name'])}: ${label} name: 1 to 63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit (it names the topic asana.routes.<name>); got ${JSON.stringify(name ?? null)}`,
      );
    } else if (seen.has(name)) {
      problems.push(`${lineOf([...path, 'name'])}: ${label} name: a second route named ${name}`);
    } else {
      seen.add(name);
    }
    if (!('filter' in record)) {
      problems.push(`${lineOf(path)}: ${label} filter: missing (\`filter: {}\` routes every change)`);
      return;
    }
    const filterProblems = routeFilterProblems(record.filter);
    for (const problem of filterProblems)
      problems.push(`${lineOf([...path, ...problemPath(problem)])}: ${label} ${problem}`);
    if (filterProblems.length === 0 && typeof name === 'string')
      routes.push({ name, filter: record.filter as RouteFilter });
  });
  if (problems.length > 0) throw new RouteFileError(problems);
  return routes;
}
