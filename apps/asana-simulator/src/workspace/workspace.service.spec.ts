import type { AsanaEvent } from '@asana-stream/asana';
import { GidSequence } from '../gid-sequence';
import { SimulatorError } from '../simulator.errors';
import type { RecordedEvent } from './workspace.records';
import { WorkspaceService } from './workspace.service';

const T0 = Date.parse('2026-01-05T10:00:00.000Z');

function setup() {
  const clock = { time: T0, now: () => clock.time };
  const workspace = new WorkspaceService(clock, new GidSequence(), { users: 3, tasksPerProject: 2 });
  const recorded: RecordedEvent[] = [];
  workspace.onEvents((events) => recorded.push(...events));
  const [project] = workspace.seededProjects();
  const [task] = workspace.projectTaskHistory(project.gid);
  const me = workspace.me();
  const events = () => recorded.map((r) => r.event);
  return { clock, workspace, recorded, events, project, task, me };
}

function expectNotFound(run: () => unknown) {
  expect(run).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as SimulatorError);
}

describe('WorkspaceService', () => {
  it('seeds one workspace with users and two projects of numeric 16-digit gids, the same on every start', () => {
    const a = setup().workspace;
    const b = setup().workspace;
    expect(a.allUsers()).toHaveLength(3);
    expect(a.seededProjects()).toHaveLength(2);
    expect(a.allTasks()).toHaveLength(4);
    for (const gid of [a.workspace.gid, ...a.allProjects().map((p) => p.gid), ...a.allTasks().map((t) => t.gid)]) {
      expect(gid).toMatch(/^\d{16}$/);
    }
    expect(b.allTasks().map((t) => t.gid)).toEqual(a.allTasks().map((t) => t.gid));
  });

  it('records an "added" event with the project as parent when a task is created', () => {
    const { workspace, events, project, me } = setup();
    const task = workspace.createTask({ name: 'New', projects: [project.gid] }, me.gid);
    expect(events()).toEqual<AsanaEvent[]>([
      {
        user: { gid: me.gid, resource_type: 'user' },
        created_at: new Date(T0).toISOString(),
        action: 'added',
        resource: { gid: task.gid, resource_type: 'task', resource_subtype: 'default_task' },
        parent: { gid: project.gid, resource_type: 'project' },
      },
    ]);
  });

  it('records a rename as one "changed" event on name, carrying no value', () => {
    const { workspace, events, task, me } = setup();
    workspace.updateTask(task.gid, { name: 'Renamed' }, me.gid);
    expect(events()).toHaveLength(1);
    expect(events()[0]).toMatchObject({
      action: 'changed',
      parent: null,
      change: { field: 'name', action: 'changed' },
    });
    expect(events()[0].change).not.toHaveProperty('new_value');
  });

  it('records a completion as two events, completed and completed_at, with the same created_at', () => {
    const { workspace, events, task, me, clock } = setup();
    clock.time += 5000;
    const done = workspace.updateTask(task.gid, { completed: true }, me.gid);
    expect(events().map((e) => e.change?.field)).toEqual(['completed', 'completed_at']);
    expect(events()[0].created_at).toBe(events()[1].created_at);
    expect(events()[0].created_at).toBe(new Date(T0 + 5000).toISOString());
    expect(done.completedAt).toBe(T0 + 5000);
  });

  it('records an assignment with the assignee as new_value, and an unassignment without one', () => {
    const { workspace, events, task, me } = setup();
    const other = workspace.allUsers().find((u) => u.gid !== task.assigneeGid && u.gid !== me.gid)!;
    workspace.updateTask(task.gid, { assignee: other.gid }, me.gid);
    workspace.updateTask(task.gid, { assignee: null }, me.gid);
    expect(events()[0].change).toEqual({
      field: 'assignee',
      action: 'changed',
      new_value: { gid: other.gid, resource_type: 'user' },
    });
    expect(events()[1].change).toEqual({ field: 'assignee', action: 'changed' });
  });

  it('accepts "me" and an email as assignee, like Asana', () => {
    const { workspace, task, me } = setup();
    const other = workspace.allUsers()[2];
    expect(workspace.updateTask(task.gid, { assignee: other.email }, me.gid).assigneeGid).toBe(other.gid);
    expect(workspace.updateTask(task.gid, { assignee: 'me' }, me.gid).assigneeGid).toBe(me.gid);
  });

  it('records a delete as "deleted" with a null parent, then answers 404 for the task', () => {
    const { workspace, events, task, me } = setup();
    workspace.deleteTask(task.gid, me.gid);
    expect(events()).toEqual([expect.objectContaining({ action: 'deleted', parent: null })]);
    expectNotFound(() => workspace.getTask(task.gid));
    expectNotFound(() => workspace.updateTask(task.gid, { name: 'x' }, me.gid));
    expect(workspace.findTask(task.gid)?.deleted).toBe(true);
  });

  it('records an undelete as "undeleted" and makes the task visible again', () => {
    const { workspace, events, task, me } = setup();
    workspace.deleteTask(task.gid, me.gid);
    workspace.undeleteTask(task.gid, me.gid);
    expect(events().map((e) => e.action)).toEqual(['deleted', 'undeleted']);
    expect(workspace.getTask(task.gid).gid).toBe(task.gid);
  });

  it('names null as the user of a change made by the system', () => {
    const { workspace, events, task } = setup();
    workspace.updateTask(task.gid, { name: 'By a rule' }, null);
    expect(events()[0].user).toBeNull();
  });

  it('bumps modified_at by 1 ms per mutation while the clock stands still, so versions strictly increase', () => {
    const { workspace, task, me } = setup();
    const seen = [task.modifiedAt];
    for (const name of ['a', 'b', 'c']) seen.push(workspace.updateTask(task.gid, { name }, me.gid).modifiedAt);
    workspace.deleteTask(task.gid, me.gid);
    seen.push(workspace.findTask(task.gid)!.modifiedAt);
    seen.push(workspace.undeleteTask(task.gid, me.gid).modifiedAt);
    expect(seen).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5]);
  });

  it('keeps modified_at increasing even when the clock goes backwards', () => {
    const { workspace, task, me, clock } = setup();
    clock.time = T0 + 1000;
    workspace.updateTask(task.gid, { name: 'later' }, me.gid);
    clock.time = T0 + 10;
    expect(workspace.updateTask(task.gid, { name: 'earlier clock' }, me.gid).modifiedAt).toBe(T0 + 1001);
  });

  it('records nothing and keeps modified_at for an update that changes nothing', () => {
    const { workspace, events, task, me } = setup();
    workspace.updateTask(task.gid, { name: task.name, completed: task.completed }, me.gid);
    expect(events()).toEqual([]);
    expect(workspace.getTask(task.gid).modifiedAt).toBe(T0);
  });

  it('sends task events to the task and its projects, and project events to the project and workspace', () => {
    const { workspace, recorded, task, project, me } = setup();
    workspace.updateTask(task.gid, { name: 'x' }, me.gid);
    workspace.updateProject(project.gid, { name: 'y' }, me.gid);
    expect(recorded[0].watchers).toEqual([task.gid, project.gid]);
    expect(recorded[1].watchers).toEqual([project.gid, workspace.workspace.gid]);
  });

  it("sends a subtask's events, and its comments', to it, its parent tasks and each one's projects, even with a parent in the trash", () => {
    const { workspace, recorded, task, project, me } = setup();
    const sub = workspace.createSubtask(task.gid, { name: 'Sub' }, me.gid);
    const subSub = workspace.createSubtask(sub.gid, { name: 'Sub sub' }, me.gid);
    workspace.updateTask(subSub.gid, { name: 'Renamed' }, me.gid);
    const comment = workspace.stories.addComment(subSub.gid, { text: 'Hi' }, me.gid);
    workspace.deleteTask(task.gid, me.gid);
    workspace.deleteTask(subSub.gid, me.gid);
    expect(recorded.map(({ event, watchers }) => [event.action, event.resource.gid, watchers])).toEqual([
      ['added', sub.gid, [sub.gid, task.gid, project.gid]],
      ['added', subSub.gid, [subSub.gid, sub.gid, task.gid, project.gid]],
      ['changed', subSub.gid, [subSub.gid, sub.gid, task.gid, project.gid]],
      ['added', comment.gid, [comment.gid, subSub.gid, sub.gid, task.gid, project.gid]],
      ['deleted', task.gid, [task.gid, project.gid]],
      ['deleted', subSub.gid, [subSub.gid, sub.gid, task.gid, project.gid]],
    ]);
  });

  it('records project create, rename, delete and undelete like tasks, and 404s a trashed project', () => {
    const { workspace, events, me } = setup();
    const project = workspace.createProject({ name: 'P', team: workspace.team.gid }, me.gid);
    workspace.updateProject(project.gid, { name: 'P2', archived: true }, me.gid);
    workspace.deleteProject(project.gid, me.gid);
    expectNotFound(() => workspace.getProject(project.gid));
    workspace.undeleteProject(project.gid, me.gid);
    expect(events().map((e) => [e.action, e.change?.field ?? null, e.parent?.resource_type ?? null])).toEqual([
      ['added', null, 'team'],
      ['changed', 'name', null],
      ['changed', 'archived', null],
      ['deleted', null, null],
      ['undeleted', null, null],
    ]);
  });

  it('rejects a task in an unknown project, and a project without a team in the organization', () => {
    const { workspace, me } = setup();
    expect(() => workspace.createTask({ projects: ['1'] }, me.gid)).toThrow(/projects\[0\]: Not a recognized ID: 1/);
    expect(() => workspace.createTask({ name: 'nowhere' }, me.gid)).toThrow(/workspace, parent, projects/);
    expect(() => workspace.createProject({ name: 'P', workspace: workspace.workspace.gid }, me.gid)).toThrow(
      /team: Missing input/,
    );
  });

  it('keeps a trashed task in its project history so list offsets stay stable', () => {
    const { workspace, project, task, me } = setup();
    workspace.deleteTask(task.gid, me.gid);
    expect(workspace.projectTaskHistory(project.gid).map((t) => t.gid)).toContain(task.gid);
  });
});
