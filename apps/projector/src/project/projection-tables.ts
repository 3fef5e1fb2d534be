import type { AsanaResource } from '@asana-stream/asana';
import { ProjectEntity, ResourceEntity, TaskEntity, type ProjectionColumns } from '@asana-stream/db';

type EntityClass = new () => ProjectionColumns;

interface ProjectionTable {
  entity: EntityClass;
  /** The table's query columns, read from the state (the full state is kept as jsonb too). */
  columns(state: AsanaResource | null, type: string): Record<string, unknown>;
}

const gidOf = (value: unknown): string | null =>
  typeof value === 'object' && value !== null && typeof (value as { gid?: unknown }).gid === 'string'
    ? (value as { gid: string }).gid
    : null;
const stringOf = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const booleanOf = (value: unknown): boolean | null => (typeof value === 'boolean' ? value : null);

const TABLES: Record<string, ProjectionTable> = {
  task: {
    entity: TaskEntity,
    columns: (s) => ({
      name: stringOf(s?.name),
      completed: booleanOf(s?.completed),
      assigneeGid: gidOf(s?.assignee),
      workspaceGid: gidOf(s?.workspace),
    }),
  },
  project: {
    entity: ProjectEntity,
    columns: (s) => ({ name: stringOf(s?.name), archived: booleanOf(s?.archived), workspaceGid: gidOf(s?.workspace) }),
  },
};

const GENERIC: ProjectionTable = { entity: ResourceEntity, columns: (_s, type) => ({ type }) };

/** The projection table of a resource type: its own for tasks and projects, the generic one otherwise. */
export function projectionTableFor(type: string): ProjectionTable {
  return TABLES[type] ?? GENERIC;
}
