import { GidSequence } from '../gid-sequence';
import { parseOptFields } from './opt-fields';
import { StoryPresenter } from './story.presenter';
import { WorkspaceService } from './workspace.service';

function setup() {
  const workspace = new WorkspaceService({ now: () => Date.parse('2026-01-05T10:00:00Z') }, new GidSequence(), {
    users: 2,
    tasksPerProject: 1,
  });
  const presenter = new StoryPresenter(workspace);
  const [project] = workspace.seededProjects();
  const [task] = workspace.projectTaskHistory(project.gid);
  const me = workspace.me();
  const last = () => workspace.stories.history(task.gid).at(-1)!;
  return { workspace, presenter, project, task, me, last };
}

describe('StoryPresenter', () => {
  it('renders a comment in full, with what only comments have and without the opt-in html_text', () => {
    const { workspace, presenter, task, me } = setup();
    const story = workspace.stories.addComment(task.gid, { text: 'a < b' }, me.gid);
    expect(presenter.story(story)).toEqual({
      gid: story.gid,
      resource_type: 'story',
      // 1 ms past the task's creation: a story moves the task's modified_at, and the clock stands still.
      created_at: '2026-01-05T10:00:00.001Z',
      created_by: { gid: me.gid, resource_type: 'user', name: me.name },
      resource_subtype: 'comment_added',
      text: 'a < b',
      type: 'comment',
      is_editable: true,
      is_edited: false,
      is_pinned: false,
      hearted: false,
      hearts: [],
      num_hearts: 0,
      liked: false,
      likes: [],
      num_likes: 0,
      previews: [],
      reaction_summary: [],
      source: 'api',
      target: { gid: task.gid, resource_type: 'task', name: task.name, resource_subtype: 'default_task' },
    });
    expect(presenter.story(story, parseOptFields('html_text'))).toEqual({
      gid: story.gid,
      html_text: '<body>a &lt; b</body>',
    });
  });

  it("renders a system story with its subtype's conditional fields and none of a comment's", () => {
    const { workspace, presenter, task, project, me, last } = setup();
    const [added] = workspace.stories.history(task.gid);
    expect(presenter.story(added)).toMatchObject({
      type: 'system',
      resource_subtype: 'added_to_project',
      project: { gid: project.gid, resource_type: 'project', name: project.name },
    });
    expect(presenter.story(added)).not.toHaveProperty('likes');
    const oldName = task.name;
    workspace.updateTask(task.gid, { name: 'New name' }, me.gid);
    expect(presenter.story(last())).toMatchObject({ old_name: oldName, new_name: 'New name' });
    const other = workspace.allUsers()[1];
    workspace.updateTask(task.gid, { assignee: other.gid }, me.gid);
    expect(presenter.story(last()).assignee).toEqual({ gid: other.gid, resource_type: 'user', name: other.name });
  });

  it('names no creator for a change made by the system', () => {
    const { workspace, presenter, task, last } = setup();
    workspace.updateTask(task.gid, { completed: true }, null);
    expect(presenter.story(last())).toMatchObject({ resource_subtype: 'marked_complete', created_by: null });
  });

  it("renders a task's story list compact, and any field asked for with opt_fields", () => {
    const { workspace, presenter, task, me } = setup();
    const story = workspace.stories.addComment(task.gid, { text: 'Hi' }, me.gid);
    expect(presenter.storyCompact(story)).toEqual({
      gid: story.gid,
      resource_type: 'story',
      // 1 ms past the task's creation: a story moves the task's modified_at, and the clock stands still.
      created_at: '2026-01-05T10:00:00.001Z',
      created_by: { gid: me.gid, resource_type: 'user', name: me.name },
      resource_subtype: 'comment_added',
      text: 'Hi',
    });
    expect(presenter.storyCompact(story, parseOptFields('type,target.name,created_by.email'))).toEqual({
      gid: story.gid,
      type: 'comment',
      target: { gid: task.gid, name: task.name },
      created_by: { gid: me.gid, email: me.email },
    });
  });
});
