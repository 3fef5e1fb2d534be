import type { AsanaEvent, AsanaEventChange, AsanaResourceRef } from '@asana-stream/asana';
import type { Clock } from '../clock';
import type { GidSequence } from '../gid-sequence';
import { invalidRequest, unknownObject, unrecognizedId } from '../simulator.errors';
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
 * and tasks. Every mutation bumps the resource's `modified_at` and records the compact events
 * Asana would send for it, which listeners (the webhook deliveries) receive synchronously.
 */
export class WorkspaceService {
  readonly workspace: WorkspaceRecord;
  readonly team: TeamRecord;
  private readonly users = new Map<string, UserRecord>();
  private readonly projects = new Map<string, ProjectRecord>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly listeners = new Set<WorkspaceEventListener>();
  private readonly seededProjectGids: string[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly gids: GidSequence,
    seed: SeedOptions,
  ) {
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
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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
    this.emit(
      parents.map((parent) => this.event(task.modifiedAt, actorGid, 'added', taskRef(task), parent)),
      taskWatchers(task),
    );
    return task;
  }

  updateTask(gid: string, input: UpdateTaskInput, actorGid: string | null): TaskRecord {
    const task = this.getTask(gid);
    const changes: FieldChange[] = [];
    if (input.name !== undefined && input.name !== task.name) {
      task.name = input.name;
      changes.push({ field: 'name' });
    }
    if (input.notes !== undefined && input.notes !== task.notes) {
      task.notes = input.notes;
      changes.push({ field: 'notes' });
    }
    if (input.assignee !== undefined) {
      const assigneeGid = input.assignee === null ? null : this.requireUser('assignee', input.assignee, actorGid).gid;
      if (assigneeGid !== task.assigneeGid) {
        task.assigneeGid = assigneeGid;
        changes.push({
          field: 'assignee',
          value: assigneeGid === null ? null : { gid: assigneeGid, resource_type: 'user' },
        });
      }
    }
    const completing = input.completed !== undefined && input.completed !== task.completed;
    if (completing) {
      task.completed = input.completed as boolean;
      // Asana records a completion as two changes with the same created_at.
      changes.push({ field: 'completed' }, { field: 'completed_at' });
    }
    if (changes.length === 0) return task;
    task.modifiedAt = this.nextModifiedAt(task.modifiedAt);
    if (completing) {
      task.completedAt = task.completed ? task.modifiedAt : null;
      task.completedByGid = task.completed ? actorGid : null;
    }
    this.emitChanges(task.modifiedAt, actorGid, taskRef(task), changes, taskWatchers(task));
    return task;
  }

  deleteTask(gid: string, actorGid: string | null): void {
    const task = this.getTask(gid);
    task.deleted = true;
    task.modifiedAt = this.nextModifiedAt(task.modifiedAt);
    this.emit([this.event(task.modifiedAt, actorGid, 'deleted', taskRef(task), null)], taskWatchers(task));
  }

  /** Restores a task from the trash (Asana's UI can, its public API cannot). */
  undeleteTask(gid: string, actorGid: string | null): TaskRecord {
    const task = this.tasks.get(gid);
    if (!task) throw unknownObject(gid);
    if (!task.deleted) throw invalidRequest(`task ${gid} is not in the trash`);
    task.deleted = false;
    task.modifiedAt = this.nextModifiedAt(task.modifiedAt);
    this.emit([this.event(task.modifiedAt, actorGid, 'undeleted', taskRef(task), null)], taskWatchers(task));
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
    this.emit(
      [
        this.event(project.modifiedAt, actorGid, 'added', projectRef(project), {
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
    project.modifiedAt = this.nextModifiedAt(project.modifiedAt);
    this.emitChanges(project.modifiedAt, actorGid, projectRef(project), changes, this.projectWatchers(project));
    return project;
  }

  /** Trashes a project; its tasks stay (in Asana too a task outlives its project). */
  deleteProject(gid: string, actorGid: string | null): void {
    const project = this.getProject(gid);
    project.deleted = true;
    project.modifiedAt = this.nextModifiedAt(project.modifiedAt);
    this.emit(
      [this.event(project.modifiedAt, actorGid, 'deleted', projectRef(project), null)],
      this.projectWatchers(project),
    );
  }

  undeleteProject(gid: string, actorGid: string | null): ProjectRecord {
    const project = this.projects.get(gid);
    if (!project) throw unknownObject(gid);
    if (!project.deleted) throw invalidRequest(`project ${gid} is not in the trash`);
    project.deleted = false;
    project.modifiedAt = this.nextModifiedAt(project.modifiedAt);
    this.emit(
      [this.event(project.modifiedAt, actorGid, 'undeleted', projectRef(project), null)],
      this.projectWatchers(project),
    );
    return project;
  }

  /**
   * `modified_at` for a mutation now: the clock, or 1 ms past the previous value when the clock
   * has not moved past it, so a resource's versions strictly increase (consumers order by them).
   */
  private nextModifiedAt(previous: number): number {
    const now = this.clock.now();
    return now > previous ? now : previous + 1;
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
      section: { gid: this.gids.next(), name: 'Untitled section' },
      createdAt: at,
      modifiedAt: at,
      deleted: false,
      taskGids: [],
    };
    this.projects.set(project.gid, project);
    return project;
  }

  private insertTask(
    fields: Pick<TaskRecord, 'name' | 'assigneeGid' | 'createdByGid' | 'projectGids'> & Partial<TaskRecord>,
  ): TaskRecord {
    const at = this.clock.now();
    const completed = fields.completed ?? false;
    const task: TaskRecord = {
      notes: '',
      ...fields,
      completed,
      completedAt: completed ? at : null,
      completedByGid: completed ? fields.createdByGid : null,
      gid: this.gids.next(),
      createdAt: at,
      modifiedAt: at,
      deleted: false,
    };
    this.tasks.set(task.gid, task);
    for (const projectGid of task.projectGids) this.projects.get(projectGid)?.taskGids.push(task.gid);
    return task;
  }

  private projectWatchers(project: ProjectRecord): string[] {
    return [project.gid, this.workspace.gid];
  }

  private event(
    at: number,
    actorGid: string | null,
    action: AsanaEvent['action'],
    resource: AsanaResourceRef,
    parent: AsanaResourceRef | null,
    change?: AsanaEventChange,
  ): AsanaEvent {
    return {
      user: actorGid === null ? null : { gid: actorGid, resource_type: 'user' },
      created_at: new Date(at).toISOString(),
      action,
      resource,
      parent,
      ...(change ? { change } : {}),
    };
  }

  private emitChanges(
    at: number,
    actorGid: string | null,
    resource: AsanaResourceRef,
    changes: FieldChange[],
    watchers: string[],
  ): void {
    this.emit(
      changes.map(({ field, value }) =>
        this.event(at, actorGid, 'changed', resource, null, {
          field,
          action: 'changed',
          ...(value ? { new_value: value } : {}),
        }),
      ),
      watchers,
    );
  }

  private emit(events: AsanaEvent[], watchers: string[]): void {
    const recorded = events.map((event) => ({ event, watchers }));
    for (const listener of this.listeners) listener(recorded);
  }
}

function taskRef(task: TaskRecord): AsanaResourceRef {
  return { gid: task.gid, resource_type: 'task', resource_subtype: 'default_task' };
}

function projectRef(project: ProjectRecord): AsanaResourceRef {
  return { gid: project.gid, resource_type: 'project' };
}

function taskWatchers(task: TaskRecord): string[] {
  return [task.gid, ...task.projectGids];
}
