import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('TagsController (HTTP)', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.close());

  const create = (data: object) =>
    sim.post('/api/1.0/tags', { data: { workspace: sim.workspace.workspace.gid, ...data } });

  it('creates a tag with 201 and the full record, readable at /tags/{gid} with opt_fields', async () => {
    const res = await create({ name: 'urgent', color: 'light-red', notes: 'drop everything' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      resource_type: 'tag',
      name: 'urgent',
      color: 'light-red',
      notes: 'drop everything',
      followers: [],
      workspace: { gid: sim.workspace.workspace.gid, resource_type: 'workspace', name: 'Simulated Workspace' },
    });
    const gid = res.body.data.gid as string;
    expect((await sim.get(`/api/1.0/tags/${gid}`)).body).toEqual(res.body);
    expect((await sim.get(`/api/1.0/tags/${gid}?opt_fields=name,color`)).body.data).toEqual({
      gid,
      name: 'urgent',
      color: 'light-red',
    });
  });

  it('deletes a tag with {"data":{}}, then answers 404 for it, as for an unknown gid', async () => {
    const gid = (await create({ name: 'old' })).body.data.gid as string;
    expect((await sim.delete(`/api/1.0/tags/${gid}`)).body).toEqual({ data: {} });
    for (const res of [await sim.get(`/api/1.0/tags/${gid}`), await sim.get('/api/1.0/tags/1234567890123456')]) {
      expect(res.status).toBe(404);
      expect(res.body.errors[0].message).toMatch(/^Unknown object: \d+$/);
    }
  });

  it('rejects a tag without a workspace, or with a color the spec does not list, with 400', async () => {
    const noWorkspace = await sim.post('/api/1.0/tags', { data: { name: 'x' } });
    expect(noWorkspace.status).toBe(400);
    expect(noWorkspace.body.errors[0].message).toBe('workspace: Missing input');
    expect((await create({ name: 'x', color: 'purple' })).status).toBe(400);
  });
});
