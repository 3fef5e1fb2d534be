import { GidSequence } from '../gid-sequence';
import { SimulatorError } from '../simulator.errors';
import type { RecordedEvent } from './workspace.records';
import { WorkspaceService } from './workspace.service';

const T0 = Date.parse('2026-01-05T10:00:00.000Z');

function setup() {
  const clock = { time: T0, now: () => clock.time };
  const workspace = new WorkspaceService(clock, new GidSequence(), { users: 2, tasksPerProject: 2 });
  const recorded: RecordedEvent[] = [];
  workspace.onEvents((events) => recorded.push(...events));
  const [project] = workspace.seededProjects();
  const me = workspace.me();
  const names = () =>
    workspace.sections
      .history(project)
      .filter((s) => !s.deleted)
      .map((s) => s.name);
  return { clock, workspace, recorded, project, me, names };
}

const notFound = expect.objectContaining({ code: 'NOT_FOUND' }) as SimulatorError;

describe('ProjectSections', () => {
  it('gives each project an "Untitled section" without an event of its own, and puts its tasks there', () => {
    const { workspace, recorded, me } = setup();
    const project = workspace.createProject({ name: 'New', team: workspace.team.gid }, me.gid);
    const [section] = workspace.sections.history(project);
    expect(section).toMatchObject({ name: 'Untitled section', projectGid: project.gid, deleted: false });
    expect(recorded.map((r) => r.event.resource.resource_type)).toEqual(['project']);
    const task = workspace.createTask({ name: 't', projects: [project.gid] }, me.gid);
    expect(task.sectionByProject).toEqual({ [project.gid]: section.gid });
  });

  it('creates a section at the end with an "added" event whose parent is the project', () => {
    const { workspace, recorded, project, me, names, clock } = setup();
    clock.time += 2000;
    const section = workspace.sections.create(project.gid, { name: 'Doing' }, me.gid);
    expect(names()).toEqual(['Untitled section', 'Doing']);
    expect(section.createdAt).toBe(T0 + 2000);
    expect(recorded).toEqual([
      {
        event: {
          user: { gid: me.gid, resource_type: 'user' },
          created_at: new Date(T0 + 2000).toISOString(),
          action: 'added',
          resource: { gid: section.gid, resource_type: 'section' },
          parent: { gid: project.gid, resource_type: 'project' },
        },
        watchers: [section.gid, project.gid],
      },
    ]);
  });

  it('inserts before or after a section of the project when asked', () => {
    const { workspace, project, me, names } = setup();
    const [untitled] = workspace.sections.history(project);
    const done = workspace.sections.create(project.gid, { name: 'Done' }, me.gid);
    workspace.sections.create(project.gid, { name: 'Backlog', insertBefore: untitled.gid }, me.gid);
    workspace.sections.create(project.gid, { name: 'Doing', insertAfter: untitled.gid }, me.gid);
    workspace.sections.create(project.gid, { name: 'Archive', insertAfter: done.gid }, me.gid);
    expect(names()).toEqual(['Backlog', 'Untitled section', 'Doing', 'Done', 'Archive']);
  });

  it('rejects a missing or empty name, both anchors, and an anchor outside the project', () => {
    const { workspace, recorded, project, me } = setup();
    const [untitled] = workspace.sections.history(project);
    const elsewhere = workspace.sections.history(workspace.seededProjects()[1])[0];
    expect(() => workspace.sections.create(project.gid, {}, me.gid)).toThrow(/name: Missing input/);
    expect(() => workspace.sections.create(project.gid, { name: '' }, me.gid)).toThrow(/name: Missing input/);
    expect(() =>
      workspace.sections.create(
        project.gid,
        { name: 'x', insertBefore: untitled.gid, insertAfter: untitled.gid },
        me.gid,
      ),
    ).toThrow(/Cannot provide both/);
    expect(() => workspace.sections.create(project.gid, { name: 'x', insertAfter: elsewhere.gid }, me.gid)).toThrow(
      `insert_after: Not a recognized ID: ${elsewhere.gid}`,
    );
    expect(() => workspace.sections.create('1', { name: 'x' }, me.gid)).toThrow(notFound);
    expect(recorded).toEqual([]);
  });

  it('deletes an empty section with a "deleted" event, then answers 404 for it', () => {
    const { workspace, recorded, project, me, names } = setup();
    const section = workspace.sections.create(project.gid, { name: 'Temp' }, me.gid);
    workspace.sections.delete(section.gid, me.gid);
    expect(recorded[1]).toEqual({
      event: expect.objectContaining({
        action: 'deleted',
        resource: { gid: section.gid, resource_type: 'section' },
        parent: null,
      }),
      watchers: [section.gid, project.gid],
    });
    expect(names()).toEqual(['Untitled section']);
    expect(() => workspace.sections.get(section.gid)).toThrow(notFound);
    expect(() => workspace.sections.delete(section.gid, me.gid)).toThrow(notFound);
  });

  it('refuses to delete a section holding a task, even a trashed one, or the last section', () => {
    const { workspace, project, me } = setup();
    const [untitled] = workspace.sections.history(project);
    expect(() => workspace.sections.delete(untitled.gid, me.gid)).toThrow(/last remaining section/);
    workspace.sections.create(project.gid, { name: 'Second' }, me.gid);
    expect(() => workspace.sections.delete(untitled.gid, me.gid)).toThrow(/must be empty/);
    for (const task of workspace.projectTaskHistory(project.gid)) workspace.deleteTask(task.gid, me.gid);
    expect(() => workspace.sections.delete(untitled.gid, me.gid)).toThrow(/must be empty/);
  });

  it("answers 404 for a trashed project's sections, and shows them again once it is restored", () => {
    const { workspace, project, me } = setup();
    const [untitled] = workspace.sections.history(project);
    workspace.deleteProject(project.gid, me.gid);
    expect(() => workspace.sections.get(untitled.gid)).toThrow(notFound);
    workspace.undeleteProject(project.gid, me.gid);
    expect(workspace.sections.get(untitled.gid).name).toBe('Untitled section');
  });
});
