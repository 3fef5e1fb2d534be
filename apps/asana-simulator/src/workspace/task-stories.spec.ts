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
  const other = workspace.allUsers()[2];
  const subtypes = (gid: string) => workspace.stories.history(gid).map((story) => story.details.subtype);
  return { clock, workspace, recorded, project, task, me, other, subtypes };
}

describe('TaskStories', () => {
  it('gives every task the stories of its creation: added to each project, assigned, completed', () => {
    const { workspace, project, me, other, subtypes } = setup();
    const seeded = workspace.projectTaskHistory(project.gid)[0];
    expect(subtypes(seeded.gid)).toEqual(['added_to_project', 'assigned']);
    const task = workspace.createTask(
      { name: 'New', projects: [project.gid], assignee: other.gid, completed: true },
      me.gid,
    );
    expect(subtypes(task.gid)).toEqual(['added_to_project', 'assigned', 'marked_complete']);
    expect(workspace.stories.history(task.gid).map((story) => story.text)).toEqual([
      `added to ${project.name}`,
      `assigned to ${other.name}`,
      'marked this task complete',
    ]);
    for (const story of workspace.stories.history(task.gid)) {
      expect(story).toMatchObject({ createdByGid: me.gid, createdAt: task.createdAt, taskGid: task.gid });
    }
  });

  it('records a system story per task change at its modified_at, by its user, and no event for it', () => {
    const { workspace, recorded, task, me, other, clock, subtypes } = setup();
    clock.time += 1000;
    workspace.updateTask(task.gid, { name: 'Renamed', notes: 'n', assignee: other.gid, completed: true }, null);
    workspace.updateTask(task.gid, { assignee: null, completed: false }, me.gid);
    expect(subtypes(task.gid)).toEqual([
      'added_to_project',
      'assigned',
      'name_changed',
      'notes_changed',
      'assigned',
      'marked_complete',
      'unassigned',
      'marked_incomplete',
    ]);
    const stories = workspace.stories.history(task.gid);
    expect(stories[2]).toMatchObject({
      details: { subtype: 'name_changed', oldName: expect.stringContaining('Write the spec'), newName: 'Renamed' },
      text: 'changed the name to "Renamed"',
      createdByGid: null,
      createdAt: T0 + 1000,
    });
    expect(stories[6]).toMatchObject({ text: `unassigned from ${other.name}`, createdByGid: me.gid });
    expect(recorded.map((r) => r.event.resource.resource_type)).toEqual(Array(8).fill('task'));
  });

  it('adds a comment as a story "added" event whose parent is the task, reaching the task and its projects', () => {
    const { workspace, recorded, task, project, me, clock } = setup();
    clock.time += 5000;
    const story = workspace.stories.addComment(task.gid, { text: 'Looks good' }, me.gid);
    expect(story).toMatchObject({ details: { subtype: 'comment_added' }, text: 'Looks good', createdByGid: me.gid });
    expect(story.htmlText).toBe('<body>Looks good</body>');
    expect(recorded).toEqual([
      {
        event: {
          user: { gid: me.gid, resource_type: 'user' },
          created_at: new Date(T0 + 5000).toISOString(),
          action: 'added',
          resource: { gid: story.gid, resource_type: 'story', resource_subtype: 'comment_added' },
          parent: { gid: task.gid, resource_type: 'task', resource_subtype: 'default_task' },
        },
        watchers: [story.gid, task.gid, project.gid],
      },
    ]);
    expect(workspace.getTask(task.gid).modifiedAt).toBe(T0 + 5000);
  });

  it('takes a comment as html_text too, keeping its text content as text', () => {
    const { workspace, task, me } = setup();
    const story = workspace.stories.addComment(task.gid, { htmlText: '<body>Ship <b>it</b> &amp; go</body>' }, me.gid);
    expect(story).toMatchObject({ text: 'Ship it & go', htmlText: '<body>Ship <b>it</b> &amp; go</body>' });
  });

  it('rejects an empty comment and one with both text and html_text, recording nothing', () => {
    const { workspace, recorded, task, me } = setup();
    expect(() => workspace.stories.addComment(task.gid, {}, me.gid)).toThrow(/text: Missing input/);
    expect(() => workspace.stories.addComment(task.gid, { text: '  ' }, me.gid)).toThrow(/text: Missing input/);
    expect(() => workspace.stories.addComment(task.gid, { text: 'a', htmlText: '<body>a</body>' }, me.gid)).toThrow(
      /html_text/,
    );
    expect(recorded).toEqual([]);
    expect(workspace.getTask(task.gid).modifiedAt).toBe(T0);
  });

  it('hides the stories of a trashed task (404) and shows them again once it is restored', () => {
    const { workspace, task, me } = setup();
    const story = workspace.stories.addComment(task.gid, { text: 'Before' }, me.gid);
    workspace.deleteTask(task.gid, me.gid);
    for (const read of [
      () => workspace.stories.get(story.gid),
      () => workspace.stories.history(task.gid),
      () => workspace.stories.addComment(task.gid, { text: 'After' }, me.gid),
    ]) {
      expect(read).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as SimulatorError);
    }
    workspace.undeleteTask(task.gid, me.gid);
    expect(workspace.stories.get(story.gid).text).toBe('Before');
  });

  it('deletes its own comment with a "removed" event, then answers 404 for it', () => {
    const { workspace, recorded, task, me, project } = setup();
    const story = workspace.stories.addComment(task.gid, { text: 'Oops' }, me.gid);
    const before = workspace.getTask(task.gid).modifiedAt;
    workspace.stories.delete(story.gid, me.gid);
    expect(recorded[1]).toEqual({
      event: expect.objectContaining({
        action: 'removed',
        resource: { gid: story.gid, resource_type: 'story', resource_subtype: 'comment_added' },
        parent: { gid: task.gid, resource_type: 'task', resource_subtype: 'default_task' },
      }),
      watchers: [story.gid, task.gid, project.gid],
    });
    expect(workspace.getTask(task.gid).modifiedAt).toBeGreaterThan(before);
    expect(() => workspace.stories.get(story.gid)).toThrow(`Unknown object: ${story.gid}`);
    expect(workspace.stories.history(task.gid).map((s) => s.gid)).toContain(story.gid);
  });

  it("refuses to delete another user's comment or a system story with 403", () => {
    const { workspace, task, me, other } = setup();
    const theirs = workspace.stories.addComment(task.gid, { text: 'Mine' }, other.gid);
    const [system] = workspace.stories.history(task.gid);
    for (const gid of [theirs.gid, system.gid]) {
      expect(() => workspace.stories.delete(gid, me.gid)).toThrow(
        expect.objectContaining({ code: 'FORBIDDEN' }) as SimulatorError,
      );
    }
    expect(workspace.stories.get(theirs.gid).deleted).toBe(false);
  });
});
