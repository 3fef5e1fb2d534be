/**
 * Fields fetched per resource type. Asana returns compact objects unless asked, and every field
 * asked for costs nothing extra in the rate budget, so the projection gets what downstream
 * teams query. `gid` always comes back.
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
