import { GidSequence } from '../gid-sequence';
import { AttachmentPresenter } from './attachment.presenter';
import { parseOptFields } from './opt-fields';
import { WorkspaceService } from './workspace.service';

describe('AttachmentPresenter', () => {
  const workspace = new WorkspaceService({ now: () => Date.parse('2026-01-05T10:00:00Z') }, new GidSequence(), {
    users: 1,
    tasksPerProject: 1,
  });
  const presenter = new AttachmentPresenter(workspace);
  const [task] = workspace.allTasks();
  const url = 'https://example.com/design.pdf';
  const attachment = workspace.attachments.create({ parent: task.gid, name: 'Design.pdf', url }, workspace.me().gid);

  it('renders the full attachment as an external link on its task', () => {
    expect(presenter.attachment(attachment)).toEqual({
      gid: attachment.gid,
      resource_type: 'attachment',
      name: 'Design.pdf',
      resource_subtype: 'external',
      created_at: '2026-01-05T10:00:00.001Z',
      download_url: url,
      permanent_url: `https://app.asana.com/app/asana/-/get_asset?asset_id=${attachment.gid}`,
      host: 'external',
      view_url: url,
      connected_to_app: false,
      parent: { gid: task.gid, resource_type: 'task', name: task.name, resource_subtype: 'default_task' },
    });
    expect(presenter.attachment(attachment)).not.toHaveProperty('size');
  });

  it('renders only gid and the fields opt_fields asks for', () => {
    expect(presenter.attachment(attachment, parseOptFields('name,parent.name'))).toEqual({
      gid: attachment.gid,
      name: 'Design.pdf',
      parent: { gid: task.gid, name: task.name },
    });
  });
});
