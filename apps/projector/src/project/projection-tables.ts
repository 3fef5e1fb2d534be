import type { AsanaResource } from '@asana-stream/asana';

/** A query column of a projection table: its name and Postgres type, as the set-based SQL declares it. */
export interface QueryColumn {
  name: string;
  type: 'text' | 'boolean';
}

export type QueryValue = string | boolean | null;

export interface ProjectionTable {
  /** The table's name in Postgres (`libs/db`'s entities and migrations). */
  name: 'tasks' | 'projects' | 'resources';
  /** Its query columns besides the ones every projection table has (gid, state, version, ...). */
  queryColumns: readonly QueryColumn[];
  /** The query columns' values, read from the state (the full state is kept as jsonb too). */
  columns(state: AsanaResource | null, type: string): Record<string, QueryValue>;
}

const gidOf = (value: unknown): string | null =>
  typeof value === 'object' && value !== null && typeof (value as { gid?: unknown }).gid === 'string'
    ? (value as { gid: string }).gid
    : null;
const stringOf = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const booleanOf = (value: unknown): boolean | null => (typeof value === 'boolean' ? value : null);

const TABLES: Record<string, ProjectionTable> = {
  task: {
    name: 'tasks',
    queryColumns: [
      { name: 'name', type: 'text' },
      { name: 'completed', type: 'boolean' },
      { name: 'assignee_gid', type: 'text' },
      { name: 'workspace_gid', type: 'text' },
    ],
    columns: (s) => ({
      name: stringOf(s?.name),
      completed: booleanOf(s?.completed),
      assignee_gid: gidOf(s?.assignee),
      workspace_gid: gidOf(s?.workspace),
    }),
  },
  project: {
    name: 'projects',
    queryColumns: [
      { name: 'name', type: 'text' },
      { name: 'archived', type: 'boolean' },
      { name: 'workspace_gid', type: 'text' },
    ],
    columns: (s) => ({
      name: stringOf(s?.name),
      archived: booleanOf(s?.archived),
      workspace_gid: gidOf(s?.workspace),
    }),
  },
};

const GENERIC: ProjectionTable = {
  name: 'resources',
  queryColumns: [{ name: 'type', type: 'text' }],
  columns: (_s, type) => ({ type }),
};

/** A column every projection write fills, with its Postgres type (as the set-based SQL declares it). */
export interface WrittenColumn {
  name: string;
  type: 'text' | 'boolean' | 'jsonb' | 'bigint' | 'timestamptz';
}

/** The columns every projection table has, in the order a write fills them. */
const COMMON_COLUMNS: readonly WrittenColumn[] = [
  { name: 'gid', type: 'text' },
  { name: 'state', type: 'jsonb' },
  { name: 'version', type: 'bigint' },
  { name: 'deleted_at', type: 'timestamptz' },
  { name: 'updated_at', type: 'timestamptz' },
];

/** Every column a write of `table` fills: the common ones, then the table's query columns. */
export function writtenColumns(table: ProjectionTable): readonly WrittenColumn[] {
  return [...COMMON_COLUMNS, ...table.queryColumns];
}

/**
 * Every projection table, in the one order a transaction locks and writes them: two projector
 * replicas applying overlapping batches then wait for each other's rows in the same order.
 */
export const PROJECTION_TABLES: readonly ProjectionTable[] = [TABLES.task, TABLES.project, GENERIC];

/** The projection table of a resource type: its own for tasks and projects, the generic one otherwise. */
export function projectionTableFor(type: string): ProjectionTable {
  // Own keys only: a type such as `constructor` is a resource like any other, not Object's.
  return Object.hasOwn(TABLES, type) ? TABLES[type] : GENERIC;
}
