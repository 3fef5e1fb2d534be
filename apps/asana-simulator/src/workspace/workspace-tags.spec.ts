import { GidSequence } from '../gid-sequence';
import { SimulatorError } from '../simulator.errors';
import type { RecordedEvent } from './workspace.records';
import { WorkspaceService } from './workspace.service';

function setup() {
  const workspace = new WorkspaceService({ now: () => Date.parse('2026-01-05T10:00:00.000Z') }, new GidSequence(), {
    users: 2,
    tasksPerProject: 1,
  });
  const recorded: RecordedEvent[] = [];
  workspace.onEvents((events) => recorded.push(...events));
  return { workspace, recorded, me: workspace.me(), workspaceGid: workspace.workspace.gid };
}

describe('WorkspaceTags', () => {
  it('creates a tag in the workspace with an "added" event whose parent is the workspace', () => {
    const { workspace, recorded, me, workspaceGid } = setup();
    const tag = workspace.tags.create({ name: 'urgent', color: 'light-red', workspace: workspaceGid }, me.gid);
    expect(workspace.tags.get(tag.gid)).toMatchObject({ name: 'urgent', color: 'light-red', notes: '' });
    expect(recorded).toEqual([
      {
        event: {
          user: { gid: me.gid, resource_type: 'user' },
          created_at: '2026-01-05T10:00:00.000Z',
          action: 'added',
          resource: { gid: tag.gid, resource_type: 'tag' },
          parent: { gid: workspaceGid, resource_type: 'workspace' },
        },
        watchers: [tag.gid, workspaceGid],
      },
    ]);
  });

  it('requires the workspace and a color from the spec, or none', () => {
    const { workspace, recorded, me, workspaceGid } = setup();
    expect(() => workspace.tags.create({ name: 'x' }, me.gid)).toThrow(/workspace: Missing input/);
    expect(() => workspace.tags.create({ name: 'x', workspace: '1' }, me.gid)).toThrow(/Not a recognized ID: 1/);
    expect(() => workspace.tags.create({ name: 'x', color: 'purple', workspace: workspaceGid }, me.gid)).toThrow(
      /color: Invalid value "purple"/,
    );
    expect(recorded).toEqual([]);
    expect(workspace.tags.create({ color: null, workspace: workspaceGid }, me.gid).color).toBeNull();
  });

  it('deletes a tag with a "deleted" event, then answers 404 for it', () => {
    const { workspace, recorded, me, workspaceGid } = setup();
    const tag = workspace.tags.create({ name: 'old', workspace: workspaceGid }, me.gid);
    workspace.tags.delete(tag.gid, me.gid);
    expect(recorded[1].event).toMatchObject({ action: 'deleted', resource: { gid: tag.gid }, parent: null });
    const notFound = expect.objectContaining({ code: 'NOT_FOUND' }) as SimulatorError;
    expect(() => workspace.tags.get(tag.gid)).toThrow(notFound);
    expect(() => workspace.tags.get('1')).toThrow(notFound);
  });
});
