import { changeTopic, type TopicSpec } from '../topology';

/**
 * A route's filter: which changes a team's own topic (`asana.routes.<name>`) and the Events API's
 * `route=` carry. Every criterion given must hold (AND); within one, any value listed (OR). An
 * empty filter matches every change.
 */
export interface RouteFilter {
  /** Resource types (`task`, `project`, ...). */
  types?: string[];
  /** Actions (`created`, `updated`, `deleted`, `undeleted`). */
  actions?: string[];
  /**
   * Project gids: the resource is in one of them before or after the change, as Asana returns it:
   * `state.projects[].gid` or `state.memberships[].project.gid`, or the same in `changes.<field>.from`
   * (so a task moved out of the project is seen leaving it).
   */
  projects?: string[];
  /** Field names: at least one of them is a key of `changes`. */
  fields?: string[];
  /**
   * A field's new value on `state`, by dotted path (`assignee.gid`), each compared as text
   * (`123` and `"123"` are equal; null matches a missing or null field). An array on the path
   * matches when any element does (`projects.gid`).
   */
  where?: Record<string, RouteScalar>;
}

export type RouteScalar = string | number | boolean | null;

/** A named route. */
export interface Route {
  name: string;
  filter: RouteFilter;
}

/** The part of a change message a filter reads. */
export interface RoutableChange {
  type: string;
  action: string;
  changes?: Record<string, { from?: unknown; to?: unknown } | undefined> | null;
  state?: unknown;
}

/** A route's name: part of a topic name, what operators type; the same rule as a consumer's name. */
export const ROUTE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The criteria a filter may hold, in the order they are documented. */
export const ROUTE_FILTER_KEYS = ['types', 'actions', 'projects', 'fields', 'where'] as const;

/**
 * The topic of a route: `asana.routes.<name>`, with the change topics' partition count and configs,
 * so a gid lands on the same partition number as on `asana.changes.<type>` (the default partitioner).
 */
export function routeTopic(name: string): TopicSpec {
  const { partitions, configs } = changeTopic('task');
  return { name: `asana.routes.${name}`, partitions, configs };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Project gids a resource value names: `projects[].gid` and `memberships[].project.gid`. */
function projectGids(resource: unknown, into: Set<string>): void {
  if (!isRecord(resource)) return;
  addProjects(resource.projects, into);
  addMemberships(resource.memberships, into);
}

function addProjects(projects: unknown, into: Set<string>): void {
  if (!Array.isArray(projects)) return;
  for (const project of projects) if (isRecord(project) && typeof project.gid === 'string') into.add(project.gid);
}

function addMemberships(memberships: unknown, into: Set<string>): void {
  if (!Array.isArray(memberships)) return;
  for (const membership of memberships) {
    if (isRecord(membership) && isRecord(membership.project) && typeof membership.project.gid === 'string') {
      into.add(membership.project.gid);
    }
  }
}

/** The values at a dotted path; an array on the way fans out to its elements. */
function valuesAt(value: unknown, path: readonly string[]): unknown[] {
  if (Array.isArray(value)) return value.flatMap((element) => valuesAt(element, path));
  if (path.length === 0) return [value];
  if (!isRecord(value)) return [undefined];
  return valuesAt(value[path[0]], path.slice(1));
}

function sameScalar(actual: unknown, expected: RouteScalar): boolean {
  if (expected === null) return actual === null || actual === undefined;
  if (typeof actual !== 'string' && typeof actual !== 'number' && typeof actual !== 'boolean') return false;
  return String(actual) === String(expected);
}

/** Whether a change belongs on a route. Pure: the relay, the Events API and replay share it. */
export function routeMatches(filter: RouteFilter, change: RoutableChange): boolean {
  if (filter.types && !filter.types.includes(change.type)) return false;
  if (filter.actions && !filter.actions.includes(change.action)) return false;
  const changes = isRecord(change.changes) ? change.changes : {};
  if (filter.fields && !filter.fields.some((field) => Object.hasOwn(changes, field))) return false;
  if (filter.projects) {
    const gids = new Set<string>();
    projectGids(change.state, gids);
    const projects = changes.projects;
    if (isRecord(projects)) addProjects(projects.from, gids);
    const memberships = changes.memberships;
    if (isRecord(memberships)) addMemberships(memberships.from, gids);
    if (!filter.projects.some((gid) => gids.has(gid))) return false;
  }
  if (filter.where) {
    for (const [path, expected] of Object.entries(filter.where)) {
      const found = valuesAt(change.state, path.split('.'));
      if (!found.some((actual) => sameScalar(actual, expected))) return false;
    }
  }
  return true;
}

/** The routes a change belongs on, in the order given. */
export function matchingRoutes<R extends Route>(routes: readonly R[], change: RoutableChange): R[] {
  return routes.filter((route) => routeMatches(route.filter, change));
}

/** Why a value is not a filter (each problem names its field), or none. For what comes from Postgres or a file. */
export function routeFilterProblems(value: unknown): string[] {
  if (!isRecord(value)) return ['filter: must be a mapping of criteria (types, actions, projects, fields, where)'];
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (!(ROUTE_FILTER_KEYS as readonly string[]).includes(key)) {
      problems.push(`filter.${key}: unknown criterion; a filter takes ${ROUTE_FILTER_KEYS.join(', ')}`);
    }
  }
  const lists: Record<string, { rule: RegExp; what: string }> = {
    types: { rule: /^[a-z][a-z_]{0,39}$/, what: 'resource types (task, project)' },
    actions: { rule: /^(created|updated|deleted|undeleted)$/, what: 'created, updated, deleted or undeleted' },
    projects: { rule: /^\d{1,30}$/, what: 'project gids, as strings of digits' },
    fields: { rule: /^[A-Za-z0-9_.-]{1,100}$/, what: 'field names (assignee, completed)' },
  };
  for (const [key, { rule, what }] of Object.entries(lists)) {
    const list = value[key];
    if (list === undefined) continue;
    const items: unknown[] = Array.isArray(list) ? list : [];
    if (!Array.isArray(list) || items.length === 0) {
      problems.push(`filter.${key}: must be a non-empty list of ${what}`);
      continue;
    }
    items.forEach((item, i) => {
      if (typeof item !== 'string' || !rule.test(item)) {
        problems.push(`filter.${key}[${i}]: ${JSON.stringify(item)} is not one of ${what}`);
      }
    });
  }
  if (value.where !== undefined) {
    if (!isRecord(value.where) || Object.keys(value.where).length === 0) {
      problems.push('filter.where: must be a non-empty mapping of a field path to a value (assignee.gid: "123")');
    } else {
      for (const [path, expected] of Object.entries(value.where)) {
        if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(path)) {
          problems.push(`filter.where.${path}: a path is field names joined by dots (assignee.gid)`);
        }
        if (expected !== null && !['string', 'number', 'boolean'].includes(typeof expected)) {
          problems.push(`filter.where.${path}: the value must be a string, number, boolean or null`);
        }
      }
    }
  }
  return problems;
}
