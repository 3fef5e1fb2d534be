import { COMPACT, CompactRefs, iso, withCompactRefs } from './compact-refs';
import { htmlBody } from './html';
import { fieldTree, selectFields, type FieldTree, type JsonObject } from './opt-fields';
import type { ProjectRecord, SectionRecord, TaskRecord, UserRecord } from './workspace.records';
import type { WorkspaceService } from './workspace.service';

/*
 * What GET returns without opt_fields. Asana's full task and project records leave out the fields
 * its spec marks "[Opt In]" (created_by, dependencies, html_notes, num_subtasks, project_brief...).
 */
const TASK_DEFAULT = withCompactRefs(
  [
    'resource_type',
    'name',
    'resource_subtype',
    'actual_time_minutes',
    'assignee',
    'assignee_status',
    'completed',
    'completed_at',
    'completed_by',
    'created_at',
    'custom_fields',
    'due_at',
    'due_on',
    'followers',
    'hearted',
    'hearts',
    'liked',
    'likes',
    'memberships',
    'modified_at',
    'notes',
    'num_hearts',
    'num_likes',
    'parent',
    'permalink_url',
    'projects',
    'start_at',
    'start_on',
    'tags',
    'workspace',
  ],
  ['assignee', 'completed_by', 'memberships.project', 'memberships.section', 'parent', 'projects', 'workspace'],
);
const TASK_COMPACT = fieldTree(['resource_type', 'name', 'resource_subtype']);

const PROJECT_DEFAULT = withCompactRefs(
  [
    'resource_type',
    'name',
    'archived',
    'color',
    'completed',
    'completed_at',
    'completed_by',
    'created_at',
    'current_status',
    'current_status_update',
    'custom_field_settings',
    'custom_fields',
    'default_access_level',
    'default_view',
    'due_date',
    'due_on',
    'followers',
    'icon',
    'members',
    'minimum_access_level_for_customization',
    'minimum_access_level_for_sharing',
    'modified_at',
    'notes',
    'owner',
    'permalink_url',
    'privacy_setting',
    'public',
    'start_on',
    'team',
    'workspace',
  ],
  ['members', 'owner', 'team', 'workspace'],
);
const USER_DEFAULT = withCompactRefs(['resource_type', 'name', 'email', 'photo', 'workspaces'], ['workspaces']);
const WORKSPACE_DEFAULT = fieldTree(['resource_type', 'name', 'email_domains', 'is_organization']);

/**
 * Renders records as Asana's API does. Each resource is first expanded to every field the
 * simulator knows (nested resources included), then cut down to the requested `opt_fields` or,
 * without them, to the endpoint's default representation.
 */
export class ResourcePresenter {
  private readonly refs: CompactRefs;

  constructor(private readonly records: WorkspaceService) {
    this.refs = new CompactRefs(records);
  }

  task(task: TaskRecord, fields: FieldTree = TASK_DEFAULT): JsonObject {
    return selectFields(this.expandTask(task), fields);
  }

  taskCompact(task: TaskRecord, fields: FieldTree = TASK_COMPACT): JsonObject {
    return selectFields(this.expandTask(task), fields);
  }

  project(project: ProjectRecord, fields: FieldTree = PROJECT_DEFAULT): JsonObject {
    return selectFields(this.expandProject(project), fields);
  }

  projectCompact(project: ProjectRecord, fields: FieldTree = COMPACT): JsonObject {
    return selectFields(this.expandProject(project), fields);
  }

  user(user: UserRecord, fields: FieldTree = USER_DEFAULT): JsonObject {
    return selectFields({ ...this.refs.user(user.gid), workspaces: [this.refs.workspace()] }, fields);
  }

  workspace(fields: FieldTree = WORKSPACE_DEFAULT): JsonObject {
    return selectFields(this.refs.workspace(), fields);
  }

  workspaceCompact(fields: FieldTree = COMPACT): JsonObject {
    return selectFields(this.refs.workspace(), fields);
  }

  private expandTask(task: TaskRecord): JsonObject {
    const projects = task.projectGids
      .map((gid) => this.records.findProject(gid))
      .filter((project): project is ProjectRecord => project !== undefined && !project.deleted);
    return {
      gid: task.gid,
      resource_type: 'task',
      name: task.name,
      resource_subtype: 'default_task',
      actual_time_minutes: null,
      assignee: this.refs.user(task.assigneeGid),
      assignee_status: 'upcoming',
      completed: task.completed,
      completed_at: iso(task.completedAt),
      completed_by: this.refs.user(task.completedByGid),
      created_at: iso(task.createdAt),
      ...(task.createdByGid ? { created_by: this.refs.user(task.createdByGid) } : {}),
      custom_fields: [],
      dependencies: [],
      dependents: [],
      due_at: null,
      due_on: null,
      followers: [],
      hearted: false,
      hearts: [],
      html_notes: htmlBody(task.notes),
      is_rendered_as_separator: false,
      liked: false,
      likes: [],
      memberships: projects.map((project) => ({
        project: this.refs.project(project),
        section: this.refs.section(this.records.sections.find(task.sectionByProject[project.gid]) as SectionRecord),
      })),
      modified_at: iso(task.modifiedAt),
      notes: task.notes,
      num_hearts: 0,
      num_likes: 0,
      num_subtasks: (task.subtaskGids ?? []).filter((gid) => this.records.findTask(gid)?.deleted === false).length,
      parent: task.parentGid ? this.refs.task(this.records.findTask(task.parentGid) as TaskRecord) : null,
      permalink_url: `https://app.asana.com/0/${projects[0]?.gid ?? 0}/${task.gid}`,
      projects: projects.map((project) => this.refs.project(project)),
      start_at: null,
      start_on: null,
      tags: [],
      workspace: this.refs.workspace(),
    };
  }

  private expandProject(project: ProjectRecord): JsonObject {
    const owner = this.refs.user(project.ownerGid);
    return {
      ...this.refs.project(project),
      archived: project.archived,
      color: project.color,
      completed: false,
      completed_at: null,
      completed_by: null,
      created_at: iso(project.createdAt),
      created_from_template: null,
      current_status: null,
      current_status_update: null,
      custom_field_settings: [],
      custom_fields: [],
      default_access_level: 'editor',
      default_view: 'list',
      due_date: null,
      due_on: null,
      followers: [],
      html_notes: htmlBody(project.notes),
      icon: 'list',
      members: owner ? [owner] : [],
      minimum_access_level_for_customization: 'editor',
      minimum_access_level_for_sharing: 'editor',
      modified_at: iso(project.modifiedAt),
      notes: project.notes,
      owner,
      permalink_url: `https://app.asana.com/0/${project.gid}/${project.gid}`,
      privacy_setting: 'public_to_workspace',
      project_brief: null,
      public: true,
      start_on: null,
      team: { gid: this.records.team.gid, resource_type: 'team', name: this.records.team.name },
      workspace: this.refs.workspace(),
    };
  }
}
