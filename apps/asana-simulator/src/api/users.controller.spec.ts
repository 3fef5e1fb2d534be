import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('UsersController (HTTP)', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.close());

  it("answers /users/me with the token's user and its workspace", async () => {
    const res = await sim.get('/api/1.0/users/me');
    expect(res.body.data).toEqual({
      gid: sim.workspace.me().gid,
      resource_type: 'user',
      name: 'Ada Lovelace',
      email: 'ada.lovelace@example.com',
      photo: null,
      workspaces: [{ gid: sim.workspace.workspace.gid, resource_type: 'workspace', name: 'Simulated Workspace' }],
    });
  });
});
