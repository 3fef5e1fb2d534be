import { GidSequence } from '../gid-sequence';
import { parseOptFields } from './opt-fields';
import { SectionPresenter } from './section.presenter';
import { WorkspaceService } from './workspace.service';

function setup() {
  const workspace = new WorkspaceService({ now: () => Date.parse('2026-01-05T10:00:00Z') }, new GidSequence(), {
    users: 1,
    tasksPerProject: 1,
  });
  const [project] = workspace.seededProjects();
  const section = workspace.sections.create(project.gid, { name: 'Doing' }, workspace.me().gid);
  return { presenter: new SectionPresenter(workspace), project, section };
}

describe('SectionPresenter', () => {
  it('renders the full section with its project, and the deprecated projects list', () => {
    const { presenter, project, section } = setup();
    const projectRef = { gid: project.gid, resource_type: 'project', name: project.name };
    expect(presenter.section(section)).toEqual({
      gid: section.gid,
      resource_type: 'section',
      name: 'Doing',
      created_at: '2026-01-05T10:00:00.000Z',
      project: projectRef,
      projects: [projectRef],
    });
  });

  it('renders a compact section as gid, resource_type and name, or what opt_fields asks for', () => {
    const { presenter, project, section } = setup();
    expect(presenter.sectionCompact(section)).toEqual({ gid: section.gid, resource_type: 'section', name: 'Doing' });
    expect(presenter.sectionCompact(section, parseOptFields('project.name,created_at'))).toEqual({
      gid: section.gid,
      project: { gid: project.gid, name: project.name },
      created_at: '2026-01-05T10:00:00.000Z',
    });
  });
});
