import { GidSequence } from '../gid-sequence';
import { parseOptFields } from './opt-fields';
import { ResourcePresenter } from './resource.presenter';
import { WorkspaceService } from './workspace.service';

function setup() {
  const workspace = new WorkspaceService({ now: () => Date.parse('2026-01-05T10:00:00Z') }, new GidSequence(), {
    users: 2,
    tasksPerProject: 1,
  });
  const presenter = new ResourcePresenter(workspace);
  const [project] = workspace.seededProjects();
  const [task] = workspace.projectTaskHistory(project.gid);
  return { workspace, presenter, project, task };
}

describe('ResourcePresenter', () => {
  it('renders the full task by default, like GET /tasks/{gid}, with compact nested resources', () => {
    const { presenter, project, task, workspace } = setup();
    const rendered = presenter.task(task);
    expect(rendered).toMatchObject({
      gid: task.gid,
      resource_type: 'task',
      resource_subtype: 'default_task',
      name: task.name,
      notes: '',
      completed: false,
      completed_at: null,
      created_at: '2026-01-05T10:00:00.000Z',
      modified_at: '2026-01-05T10:00:00.000Z',
      assignee: { gid: workspace.me().gid, resource_type: 'user', name: workspace.me().name },
      projects: [{ gid: project.gid, resource_type: 'project', name: project.name }],
      memberships: [
        {
          project: { gid: project.gid },
          section: {
            gid: workspace.sections.history(project)[0].gid,
            resource_type: 'section',
            name: 'Untitled section',
          },
        },
      ],
      workspace: { gid: workspace.workspace.gid, resource_type: 'workspace', name: workspace.workspace.name },
      permalink_url: expect.stringContaining(task.gid),
    });
    expect(rendered.assignee).not.toHaveProperty('email');
  });

  it('leaves the fields Asana marks opt-in out of the default task and returns them when asked', () => {
    const { presenter, task } = setup();
    for (const optIn of ['html_notes', 'created_by', 'num_subtasks', 'dependencies']) {
      expect(presenter.task(task)).not.toHaveProperty(optIn);
    }
    expect(presenter.task(task, parseOptFields('html_notes,created_by.name'))).toEqual({
      gid: task.gid,
      html_notes: '<body></body>',
      created_by: { gid: expect.any(String), name: expect.any(String) },
    });
  });

  it('renders a compact task as gid, resource_type, name and resource_subtype', () => {
    const { presenter, task } = setup();
    expect(presenter.taskCompact(task)).toEqual({
      gid: task.gid,
      resource_type: 'task',
      name: task.name,
      resource_subtype: 'default_task',
    });
  });

  it('renders the full project with owner, team and workspace', () => {
    const { presenter, project, workspace } = setup();
    expect(presenter.project(project)).toMatchObject({
      gid: project.gid,
      resource_type: 'project',
      name: project.name,
      archived: false,
      owner: { gid: workspace.me().gid, resource_type: 'user' },
      team: { gid: workspace.team.gid, resource_type: 'team' },
      created_at: '2026-01-05T10:00:00.000Z',
      modified_at: '2026-01-05T10:00:00.000Z',
    });
  });

  it("drops a trashed project from a task's projects and memberships", () => {
    const { presenter, project, task, workspace } = setup();
    workspace.deleteProject(project.gid, null);
    expect(presenter.task(task)).toMatchObject({ projects: [], memberships: [] });
  });
});
