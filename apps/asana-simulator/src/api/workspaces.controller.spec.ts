import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('WorkspacesController (HTTP)', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.close());

  it('lists the workspace compactly and shows it in full', async () => {
    const gid = sim.workspace.workspace.gid;
    expect((await sim.get('/api/1.0/workspaces')).body).toEqual({
      data: [{ gid, resource_type: 'workspace', name: 'Simulated Workspace' }],
    });
    expect((await sim.get(`/api/1.0/workspaces/${gid}`)).body.data).toMatchObject({ gid, is_organization: true });
    expect((await sim.get('/api/1.0/workspaces/1')).status).toBe(404);
  });
});
