import { GidSequence } from '../gid-sequence';
import { parseOptFields } from './opt-fields';
import { TagPresenter } from './tag.presenter';
import { WorkspaceService } from './workspace.service';

describe('TagPresenter', () => {
  const workspace = new WorkspaceService({ now: () => Date.parse('2026-01-05T10:00:00Z') }, new GidSequence(), {
    users: 1,
    tasksPerProject: 1,
  });
  const presenter = new TagPresenter(workspace);
  const tag = workspace.tags.create(
    { name: 'urgent', color: 'dark-red', notes: 'now', workspace: workspace.workspace.gid },
    workspace.me().gid,
  );

  it('renders the full tag with its workspace', () => {
    expect(presenter.tag(tag)).toEqual({
      gid: tag.gid,
      resource_type: 'tag',
      name: 'urgent',
      color: 'dark-red',
      notes: 'now',
      created_at: '2026-01-05T10:00:00.000Z',
      followers: [],
      permalink_url: `https://app.asana.com/0/${tag.gid}/list`,
      workspace: { gid: workspace.workspace.gid, resource_type: 'workspace', name: workspace.workspace.name },
    });
  });

  it('renders only gid and the fields opt_fields asks for', () => {
    expect(presenter.tag(tag, parseOptFields('name,color'))).toEqual({
      gid: tag.gid,
      name: 'urgent',
      color: 'dark-red',
    });
  });
});
