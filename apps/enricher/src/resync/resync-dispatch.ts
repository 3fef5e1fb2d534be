/**
 * How a watched resource is reconciled, by its type (its webhook's `resource.resource_type`):
 *
 * - `project`: the full resync lists its tasks; the light sweep lists its tasks modified since
 *   (`GET /tasks?project=&modified_since=`).
 * - `task`: the full resync lists its subtasks and stories; the light sweep fetches the task
 *   itself (one request: Asana lists subtasks and stories with no `modified_since`).
 * - `workspace`: the full resync lists its projects; no light sweep (`GET /projects` has no
 *   `modified_since`: a sweep would be the full listing again).
 * - any other type (`portfolio`, `team`, `goal`, …): neither; nothing is repaired, which is said
 *   in the log and in `asana-stream status`.
 */
export type ResyncKind = 'project' | 'task' | 'workspace' | 'none';
export type SweepKind = 'project-tasks-modified' | 'task-itself' | 'none';

/**
 * What a resource's type calls for (the types with a resync are `RESYNCED_RESOURCE_TYPES` of
 * `libs/db`, which `asana-stream status` reads). A type not known (a subscription made before types were kept,
 * with no webhook to ask Asana about) is taken for a project, as every resource was before.
 */
export function resyncKindFor(resourceType: string | null): ResyncKind {
  switch (resourceType ?? 'project') {
    case 'project':
      return 'project';
    case 'task':
      return 'task';
    case 'workspace':
      return 'workspace';
    default:
      return 'none';
  }
}

/** The light sweep a resource's type has (see `resyncKindFor` for a type not known). */
export function sweepKindFor(resourceType: string | null): SweepKind {
  switch (resyncKindFor(resourceType)) {
    case 'project':
      return 'project-tasks-modified';
    case 'task':
      return 'task-itself';
    default:
      return 'none';
  }
}
