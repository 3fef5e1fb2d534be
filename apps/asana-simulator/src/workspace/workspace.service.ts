import type { AsanaResourceRef } from '@asana-stream/asana';
import type { Clock } from '../clock';
import type { GidSequence } from '../gid-sequence';
import { invalidRequest, unknownObject, unrecognizedId } from '../simulator.errors';
import { ProjectSections } from './project-sections';
import {
  addedToProject,
  assigned,
  completionChanged,
  nameChanged,
  notesChanged,
  unassigned,
  type StoryDraft,
} from './story-drafts';
import { TaskAttachments } from './task-attachments';
import { TaskStories } from './task-stories';
import type { WorkspaceLookup } from './workspace-context';
import { compactEvent, nextModifiedAt, projectRef, taskRef, taskWatchers, WorkspaceEvents } from './workspace-events';
import { WorkspaceTags } from './workspace-tags';
import type {
  ProjectRecord,
  TaskRecord,
  TeamRecord,
  UserRecord,
  WorkspaceEventListener,
  WorkspaceRecord,
} from './workspace.records';

export interface SeedOptions {
  users: number;
  tasksPerProject: number;
}

export interface CreateTaskInput {
  name?: string;
  notes?: string;
  completed?: boolean;
  /** A user gid, an email or "me". */
  assignee?: string | null;
  projects?: string[];
  workspace?: string;
}

export interface UpdateTaskInput {
  name?: string;
  notes?: string;
  completed?: boolean;
  assignee?: string | null;
}

export interface CreateProjectInput {
  name?: string;
  notes?: string;
  archived?: boolean;
  color?: string | null;
  owner?: string | null;
  team?: string;
  workspace?: string;
}

export type UpdateProjectInput = Omit<CreateProjectInput, 'team' | 'workspace'>;

/** A field change of one mutation: `value` only for resource-valued fields, as in Asana's events. */
interface FieldChange {
  field: string;
  value?: AsanaResourceRef | null;
}

const SEED_USER_NAMES = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson', 'Edsger Dijkstra'];
const SEED_PROJECT_NAMES = ['Platform', 'Launch'];
const SEED_TASK_NAMES = ['Write the spec', 'Review the design', 'Fix the flaky test', 'Ship the beta', 'Plan the demo'];

/**
 * The simulated workspace: one workspace (an organization with one team), its users, projects
 * and tasks, and the parts that hang from them: projects' sections, tasks' stories and
 * attachments, the workspace's tags. Every mutation bumps the resource's `modified_at` (where it
 * has one) and records the compact events Asana would send for it, which listeners (the webhook
 * deliveries) receive synchronously.
 */
export class WorkspaceService implements WorkspaceLookup {
  readonly workspace: WorkspaceRecord;
  readonly team: TeamRecord;
  readonly sections: ProjectSections;
  readonly stories: TaskStories;
  readonly tags: WorkspaceTags;
  readonly attachments: TaskAttachments;
  private readonly users = new Map<string, UserRecord>();
  private readonly projects = new Map<string, ProjectRecord>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly events = new WorkspaceEvents();
  private readonly seededProjectGids: string[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly gids: GidSequence,
    seed: SeedOptions,
  ) {
    const context = { clock, gids, events: this.events, records: this };
    this.sections = new ProjectSections(context);
    this.stories = new TaskStories(context);
    this.tags = new WorkspaceTags(context);
    this.attachments = new TaskAttachments(context, this.stories);
    this.workspace = { gid: gids.next(), name: 'Simulated Workspace', emailDomains: ['example.com'] };
    this.team = { gid: gids.next(), name: 'Engineering' };
    for (let i = 0; i < seed.users; i += 1) {
      const base = SEED_USER_NAMES[i % SEED_USER_NAMES.length];
      const name = i < SEED_USER_NAMES.length ? base : `${base} ${Math.floor(i / SEED_USER_NAMES.length) + 1}`;
      const user = { gid: gids.next(), name, email: `${name.toLowerCase().replace(/\W+/g, '.')}@example.com` };
      this.users.set(user.gid, user);
    }
    const users = [...this.users.values()];
    for (const projectName of SEED_PROJECT_NAMES) {
      const project = this.insertProject({ name: projectName, ownerGid: users[0].gid });
      this.seededProjectGids.push(project.gid);
      for (let i = 0; i < seed.tasksPerProject; i += 1) {
        this.insertTask({
          name: `${SEED_TASK_NAMES[i % SEED_TASK_NAMES.length]} (${projectName} #${i + 1})`,
          assigneeGid: i % 2 === 0 ? users[i % users.length].gid : null,
          createdByGid: users[0].gid,
          projectGids: [project.gid],
        });
      }
    }
  }

  /** Registers a listener for recorded events; returns its removal. */
  onEvents(listener: WorkspaceEventListener): () => void {
    return this.events.subscribe(listener);
  }

  /** The user the API token belongs to. */
  me(): UserRecord {
    return this.users.values().next().value as UserRecord;
  }

  allUsers(): UserRecord[] {
    return [...this.users.values()];
  }

  allProjects(): ProjectRecord[] {
    return [...this.projects.values()];
  }

  allTasks(): TaskRecord[] {
    return [...this.tasks.values()];
  }

  seededProjects(): ProjectRecord[] {
    return this.seededProjectGids.map((gid) => this.projects.get(gid) as ProjectRecord);
  }

  /** A user by gid, email or "me" (the token's user); 404 if unknown. */
  getUser(ref: string): UserRecord {
    const user = this.resolveUser(ref);
    if (!user) throw unknownObject(ref);
    return user;
  }

  findUser(gid: string): UserRecord | undefined {
    return this.users.get(gid);
  }

  getWorkspace(gid: string): WorkspaceRecord {
    if (gid !== this.workspace.gid) throw unknownObject(gid);
    return this.workspace;
  }

  /** A task the API can see; trashed or unknown ones are 404, as in Asana. */
  getTask(gid: string): TaskRecord {
    const task = this.tasks.get(gid);
    if (!task || task.deleted) throw unknownObject(gid);
    return task;
  }

  getProject(gid: string): ProjectRecord {
    const project = this.projects.get(gid);
    if (!project || project.deleted) throw unknownObject(gid);
    return project;
  }

  findTask(gid: string): TaskRecord | undefined {
    return this.tasks.get(gid);
  }

  findProject(gid: string): ProjectRecord | undefined {
    return this.projects.get(gid);
  }

  /** Whose webhooks the task's events reach (`taskWatchers`). */
  watchersOf(task: TaskRecord): string[] {
    return taskWatchers(task, (gid) => this.tasks.get(gid));
  }

  /** Every task the project ever held, in order, trashed ones included (see `ProjectRecord.taskGids`). */
  projectTaskHistory(projectGid: string): TaskRecord[] {
    return this.getProject(projectGid).taskGids.map((gid) => this.tasks.get(gid) as TaskRecord);
  }

  /** What kind of resource a gid names, for webhooks: only resources a webhook can watch here. */
  describeResource(gid: string): (AsanaResourceRef & { name: string }) | undefined {
    if (gid === this.workspace.gid) return { gid, resource_type: 'workspace', name: this.workspace.name };
    const project = this.projects.get(gid);
    if (project && !project.deleted) return { gid, resource_type: 'project', name: project.name };
    const task = this.tasks.get(gid);
    if (task && !task.deleted) return { gid, resource_type: 'task', name: task.name };
    return undefined;
  }

  createTask(input: CreateTaskInput, actorGid: string | null): TaskRecord {
    const projectGids = (input.projects ?? []).map((gid, i) => {
      if (!this.projects.get(gid) || this.projects.get(gid)?.deleted) throw unrecognizedId(`projects[${i}]`, gid);
      return gid;
    });
    if (input.workspace !== undefined && input.workspace !== this.workspace.gid) {
      throw unrecognizedId('workspace', input.workspace);
    }
    if (projectGids.length === 0 && input.workspace === undefined) {
      throw invalidRequest('You should specify one of workspace, parent, projects');
    }
    const assignee = input.assignee ?? null;
    const assigneeGid = assignee === null ? null : this.requireUser('assignee', assignee, actorGid).gid;
    const task = this.insertTask({
      name: input.name ?? '',
      notes: input.notes ?? '',
      assigneeGid,
      createdByGid: actorGid,
      projectGids,
      completed: input.completed ?? false,
    });
    const parents: AsanaResourceRef[] =
      projectGids.length > 0
        ? projectGids.map((gid) => ({ gid, resource_type: 'project' }))
        : [{ gid: this.workspace.gid, resource_type: 'workspace' }];
    this.events.record(
      parents.map((parent) => compactEvent(task.modifiedAt, actorGid, 'added', taskRef(task), parent)),
      this.watchersOf(task),
    );
    return task;
  }

  /**
   * `POST /tasks/{gid}/subtasks`: a task whose `parent` is the given task, in no project, last of
   * its subtasks; records its `added` event with the parent task as parent.
   */
  createSubtask(parentGid: string, input: CreateTaskInput, actorGid: string | null): TaskRecord {
    const parent = this.getTask(parentGid);
    const assignee = input.assignee ?? null;
    const assigneeGid = assignee === null ? null : this.requireUser('assignee', assignee, actorGid).gid;
    const task = this.insertTask({
      name: input.name ?? '',
      notes: input.notes ?? '',
      assigneeGid,
      createdByGid: actorGid,
      projectGids: [],
      parentGid: parent.gid,
      completed: input.completed ?? false,
    });
    parent.subtaskGids = [...(parent.subtaskGids ?? []), task.gid];
    this.events.record(
      [compactEvent(task.modifiedAt, actorGid, 'added', taskRef(task), taskRef(parent))],
      this.watchersOf(task),
    );
    return task;
  }

  /** Every subtask ever made under the task, in order, deleted ones included (404 for a task not shown). */
  subtaskHistory(taskGid: string): TaskRecord[] {
    return (this.getTask(taskGid).subtaskGids ?? []).map((gid) => this.tasks.get(gid) as TaskRecord);
  }

  updateTask(gid: string, input: UpdateTaskInput, actorGid: string | null): TaskRecord {
    const task = this.getTask(gid);
    const changes: FieldChange[] = [];
    // The system stories the changes make, as Asana shows them in the task's activity.
    const stories: StoryDraft[] = [];
    if (input.name !== undefined && input.name !== task.name) {
      stories.push(nameChanged(task.name, input.name));
      task.name = input.name;
      changes.push({ field: 'name' });
    }
    if (input.notes !== undefined && input.notes !== task.notes) {
      stories.push(notesChanged());
      task.notes = input.notes;
      changes.push({ field: 'notes' });
    }
    if (input.assignee !== undefined) {
      const assignee = input.assignee === null ? null : this.requireUser('assignee', input.assignee, actorGid);
      if ((assignee?.gid ?? null) !== task.assigneeGid) {
        const previous = task.assigneeGid === null ? undefined : this.users.get(task.assigneeGid);
        task.assigneeGid = assignee?.gid ?? null;
        changes.push({
          field: 'assignee',
          value: assignee === null ? null : { gid: assignee.gid, resource_type: 'user' },
        });
        stories.push(assignee === null ? unassigned(previous) : assigned(assignee));
      }
    }
    const completing = input.completed !== undefined && input.completed !== task.completed;
    if (completing) {
      stories.push(completionChanged(input.completed as boolean));
      task.completed = input.completed as boolean;
      // Asana records a completion as two changes with the same created_at.
      changes.push({ field: 'completed' }, { field: 'completed_at' });
    }
    if (changes.length === 0) return task;
    task.modifiedAt = nextModifiedAt(this.clock, task.modifiedAt);
    if (completing) {
      task.completedAt = task.completed ? task.modifiedAt : null;
      task.completedByGid = task.completed ? actorGid : null;
    }
    for (const story of stories) this.stories.record(task, story, task.modifiedAt, actorGid);
    this.emitChanges(task.modifiedAt, actorGid, taskRef(task), changes, this.watchersOf(task));
    return task;
  }

  deleteTask(gid: string, actorGid: string | null): void {
    const task = this.getTask(gid);
    task.deleted = true;
    task.modifiedAt = nextModifiedAt(this.clock, task.modifiedAt);
    this.events.record(
      [compactEvent(task.modifiedAt, actorGid, 'deleted', taskRef(task), null)],
      this.watchersOf(task),
    );
  }

  /** Restores a task from the trash (Asana's UI can, its public API cannot). */
  undeleteTask(gid: string, actorGid: string | null): TaskRecord {
    const task = this.tasks.get(gid);
    if (!task) throw unknownObject(gid);
    if (!task.deleted) throw invalidRequest(`task ${gid} is not in the trash`);
    task.deleted = false;
    task.modifiedAt = nextModifiedAt(this.clock, task.modifiedAt);
    this.events.record(
      [compactEvent(task.modifiedAt, actorGid, 'undeleted', taskRef(task), null)],
      this.watchersOf(task),
    );
    return task;
  }

  createProject(input: CreateProjectInput, actorGid: string | null): ProjectRecord {
    if (input.team !== undefined && input.team !== this.team.gid) throw unrecognizedId('team', input.team);
    if (input.workspace !== undefined && input.workspace !== this.workspace.gid) {
      throw unrecognizedId('workspace', input.workspace);
    }
    if (input.team === undefined) {
      // The workspace is an organization, where Asana requires a team for every project.
      throw invalidRequest(
        input.workspace === undefined
          ? 'workspace: Missing input'
          : 'team: Missing input. You must specify a team when creating a project in an organization',
      );
    }
    const ownerGid =
      input.owner === undefined
        ? actorGid
        : input.owner === null
          ? null
          : this.requireUser('owner', input.owner, actorGid).gid;
    const project = this.insertProject({
      name: input.name ?? '',
      notes: input.notes ?? '',
      archived: input.archived ?? false,
      color: input.color ?? null,
      ownerGid,
    });
    this.events.record(
      [
        compactEvent(project.modifiedAt, actorGid, 'added', projectRef(project), {
          gid: this.team.gid,
          resource_type: 'team',
        }),
      ],
      this.projectWatchers(project),
    );
    return project;
  }

  updateProject(gid: string, input: UpdateProjectInput, actorGid: string | null): ProjectRecord {
    const project = this.getProject(gid);
    const changes: FieldChange[] = [];
    for (const field of ['name', 'notes', 'archived', 'color'] as const) {
      const value = input[field];
      if (value !== undefined && value !== project[field]) {
        (project as unknown as Record<string, unknown>)[field] = value;
        changes.push({ field });
      }
    }
    if (input.owner !== undefined) {
      const ownerGid = input.owner === null ? null : this.requireUser('owner', input.owner, actorGid).gid;
      if (ownerGid !== project.ownerGid) {
        project.ownerGid = ownerGid;
        changes.push({ field: 'owner', value: ownerGid === null ? null : { gid: ownerGid, resource_type: 'user' } });
      }
    }
    if (changes.length === 0) return project;
    project.modifiedAt = nextModifiedAt(this.clock, project.modifiedAt);
    this.emitChanges(project.modifiedAt, actorGid, projectRef(project), changes, this.projectWatchers(project));
    return project;
  }

  /** Trashes a project; its tasks stay (in Asana too a task outlives its project). */
  deleteProject(gid: string, actorGid: string | null): void {
    const project = this.getProject(gid);
    project.deleted = true;
    project.modifiedAt = nextModifiedAt(this.clock, project.modifiedAt);
    this.events.record(
      [compactEvent(project.modifiedAt, actorGid, 'deleted', projectRef(project), null)],
      this.projectWatchers(project),
    );
  }

  undeleteProject(gid: string, actorGid: string | null): ProjectRecord {
    const project = this.projects.get(gid);
    if (!project) throw unknownObject(gid);
    if (!project.deleted) throw invalidRequest(`project ${gid} is not in the trash`);
    project.deleted = false;
    project.modifiedAt = nextModifiedAt(this.clock, project.modifiedAt);
    this.events.record(
      [compactEvent(project.modifiedAt, actorGid, 'undeleted', projectRef(project), null)],
      this.projectWatchers(project),
    );
    return project;
  }

  private requireUser(field: string, ref: string, actorGid: string | null): UserRecord {
    const user = ref === 'me' && actorGid ? this.users.get(actorGid) : this.resolveUser(ref);
    if (!user) throw unrecognizedId(field, ref);
    return user;
  }

  private resolveUser(ref: string): UserRecord | undefined {
    if (ref === 'me') return this.me();
    return this.users.get(ref) ?? [...this.users.values()].find((user) => user.email === ref);
  }

  private insertProject(fields: Pick<ProjectRecord, 'name' | 'ownerGid'> & Partial<ProjectRecord>): ProjectRecord {
    const at = this.clock.now();
    const project: ProjectRecord = {
      notes: '',
      archived: false,
      color: null,
      ...fields,
      gid: this.gids.next(),
      teamGid: this.team.gid,
      sectionGids: [],
      createdAt: at,
      modifiedAt: at,
      deleted: false,
      taskGids: [],
    };
    this.projects.set(project.gid, project);
    this.sections.addDefault(project);
    return project;
  }

  /**
   * A new task, in the first section of each of its projects, with the stories its creation makes
   * in Asana (added to each project, assigned, completed), all by its creator at its `created_at`.
   */
  private insertTask(
    fields: Pick<TaskRecord, 'name' | 'assigneeGid' | 'createdByGid' | 'projectGids'> & Partial<TaskRecord>,
  ): TaskRecord {
    const at = this.clock.now();
    const completed = fields.completed ?? false;
    const projects = fields.projectGids.map((gid) => this.projects.get(gid) as ProjectRecord);
    const task: TaskRecord = {
      notes: '',
      ...fields,
      completed,
      completedAt: completed ? at : null,
      completedByGid: completed ? fields.createdByGid : null,
      gid: this.gids.next(),
      sectionByProject: Object.fromEntries(projects.map((project) => [project.gid, this.sections.first(project).gid])),
      storyGids: [],
      createdAt: at,
      modifiedAt: at,
      deleted: false,
    };
    this.tasks.set(task.gid, task);
    for (const project of projects) project.taskGids.push(task.gid);
    const assignee = task.assigneeGid === null ? undefined : this.users.get(task.assigneeGid);
    const stories = [
      ...projects.map((project) => addedToProject(project)),
      ...(assignee ? [assigned(assignee)] : []),
      ...(completed ? [completionChanged(true)] : []),
    ];
    for (const story of stories) this.stories.record(task, story, at, task.createdByGid);
    return task;
  }

  private projectWatchers(project: ProjectRecord): string[] {
    return [project.gid, this.workspace.gid];
  }

  private emitChanges(
    at: number,
    actorGid: string | null,
    resource: AsanaResourceRef,
    changes: FieldChange[],
    watchers: string[],
  ): void {
    this.events.record(
      changes.map(({ field, value }) =>
        compactEvent(at, actorGid, 'changed', resource, null, {
          field,
          action: 'changed',
          ...(value ? { new_value: value } : {}),
        }),
      ),
      watchers,
    );
  }
}
