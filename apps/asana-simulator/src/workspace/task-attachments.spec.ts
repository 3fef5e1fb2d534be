import { GidSequence } from '../gid-sequence';
import { SimulatorError } from '../simulator.errors';
import type { RecordedEvent } from './workspace.records';
import { WorkspaceService } from './workspace.service';

const T0 = Date.parse('2026-01-05T10:00:00.000Z');

function setup() {
  const clock = { time: T0, now: () => clock.time };
  const workspace = new WorkspaceService(clock, new GidSequence(), { users: 2, tasksPerProject: 1 });
  const recorded: RecordedEvent[] = [];
  workspace.onEvents((events) => recorded.push(...events));
  const [project] = workspace.seededProjects();
  const [task] = workspace.projectTaskHistory(project.gid);
  return { clock, workspace, recorded, project, task, me: workspace.me() };
}

const LINK = { name: 'Design.pdf', url: 'https://example.com/design.pdf' };

describe('TaskAttachments', () => {
  it('attaches a link to a task, announced by the task\'s "attachment_added" story, as Asana does', () => {
    const { workspace, recorded, task, project, me, clock } = setup();
    clock.time += 3000;
    const attachment = workspace.attachments.create({ parent: task.gid, ...LINK }, me.gid);
    expect(attachment).toMatchObject({ ...LINK, taskGid: task.gid, createdAt: T0 + 3000 });
    const story = workspace.stories.history(task.gid).at(-1)!;
    expect(story).toMatchObject({ details: { subtype: 'attachment_added' }, text: 'attached Design.pdf' });
    expect(recorded).toEqual([
      {
        event: expect.objectContaining({
          action: 'added',
          resource: { gid: story.gid, resource_type: 'story', resource_subtype: 'attachment_added' },
          parent: { gid: task.gid, resource_type: 'task', resource_subtype: 'default_task' },
        }),
        watchers: [story.gid, task.gid, project.gid],
      },
    ]);
    expect(workspace.getTask(task.gid).modifiedAt).toBe(T0 + 3000);
  });

  it('rejects a missing or unknown parent, a missing name and a URL that is not one', () => {
    const { workspace, recorded, task, me } = setup();
    expect(() => workspace.attachments.create(LINK, me.gid)).toThrow(/parent: Missing input/);
    expect(() => workspace.attachments.create({ parent: '1', ...LINK }, me.gid)).toThrow(/parent: Not a recognized ID/);
    expect(() => workspace.attachments.create({ parent: task.gid, url: LINK.url }, me.gid)).toThrow(/name/);
    expect(() => workspace.attachments.create({ parent: task.gid, name: 'x', url: 'nope' }, me.gid)).toThrow(/url/);
    expect(recorded).toEqual([]);
  });

  it('deletes an attachment with a "deleted" event, moving the task\'s modified_at, then answers 404', () => {
    const { workspace, recorded, task, project, me } = setup();
    const attachment = workspace.attachments.create({ parent: task.gid, ...LINK }, me.gid);
    const before = workspace.getTask(task.gid).modifiedAt;
    workspace.attachments.delete(attachment.gid, me.gid);
    expect(recorded[1]).toEqual({
      event: expect.objectContaining({
        action: 'deleted',
        resource: { gid: attachment.gid, resource_type: 'attachment', resource_subtype: 'external' },
        parent: null,
      }),
      watchers: [attachment.gid, task.gid, project.gid],
    });
    expect(workspace.getTask(task.gid).modifiedAt).toBeGreaterThan(before);
    expect(() => workspace.attachments.get(attachment.gid)).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }) as SimulatorError,
    );
  });

  it("answers 404 for a trashed task's attachments", () => {
    const { workspace, task, me } = setup();
    const attachment = workspace.attachments.create({ parent: task.gid, ...LINK }, me.gid);
    workspace.deleteTask(task.gid, me.gid);
    expect(() => workspace.attachments.get(attachment.gid)).toThrow(`Unknown object: ${attachment.gid}`);
  });
});
