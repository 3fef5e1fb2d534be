/**
 * Fields fetched per resource type: what the projection keeps. Its query columns
 * (`apps/projector/src/project/projection-tables.ts`) and the version (`modified_at`) are among
 * them, and its `state` column, which every change published downstream carries whole, holds the
 * rest, the fields downstream teams query. Asana returns compact objects unless asked, and a field
 * asked for costs nothing extra in the request budget. `gid` always comes back.
 */
export const OPT_FIELDS: Readonly<Record<string, readonly string[]>> = {
  task: [
    'resource_type',
    'resource_subtype',
    'name',
    'notes',
    'completed',
    'completed_at',
    'assignee.name',
    'due_on',
    'created_at',
    'modified_at',
    'parent.name',
    'projects.name',
    'workspace.name',
    'permalink_url',
  ],
  project: [
    'resource_type',
    'name',
    'notes',
    'archived',
    'color',
    'created_at',
    'modified_at',
    'owner.name',
    'team.name',
    'workspace.name',
    'permalink_url',
  ],
};
