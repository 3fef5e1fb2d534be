import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('ProjectsController (HTTP)', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ SIM_SEED_TASKS_PER_PROJECT: '5' });
  });

  afterAll(() => sim.close());

  const teamGid = () => sim.workspace.team.gid;

  it("pages through a project's tasks with limit and offset, following next_page to the end", async () => {
    const project = (await sim.post('/api/1.0/projects', { data: { name: 'Paged', team: teamGid() } })).body.data;
    const created: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      created.push(
        (await sim.post('/api/1.0/tasks', { data: { name: `t${i}`, projects: [project.gid] } })).body.data.gid,
      );
    }
    await sim.delete(`/api/1.0/tasks/${created[1]}`);
    const seen: string[] = [];
    let path: string | undefined = `/projects/${project.gid}/tasks?limit=2`;
    while (path) {
      const res = await sim.get(`/api/1.0${path}`);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      for (const task of res.body.data)
        expect(Object.keys(task).sort()).toEqual(['gid', 'name', 'resource_subtype', 'resource_type']);
      seen.push(...(res.body.data as { gid: string }[]).map((t) => t.gid));
      if (res.body.next_page) expect(res.body.next_page.uri).toBe(`${sim.baseUrl}/api/1.0${res.body.next_page.path}`);
      path = res.body.next_page?.path;
    }
    expect(seen).toEqual(created.filter((_, i) => i !== 1));
  });

  it('returns every task and no next_page without limit', async () => {
    const projectGid = sim.workspace.seededProjects()[1].gid;
    const res = await sim.get(`/api/1.0/projects/${projectGid}/tasks`);
    expect(res.body.data).toHaveLength(5);
    expect(res.body).not.toHaveProperty('next_page');
  });

  it('rejects a limit outside 1–100 and a forged offset with 400', async () => {
    const projectGid = sim.workspace.seededProjects()[1].gid;
    expect((await sim.get(`/api/1.0/projects/${projectGid}/tasks?limit=0`)).status).toBe(400);
    expect((await sim.get(`/api/1.0/projects/${projectGid}/tasks?limit=101`)).status).toBe(400);
    expect((await sim.get(`/api/1.0/projects/${projectGid}/tasks?limit=2&offset=forged`)).status).toBe(400);
  });

  it('creates, renames, deletes and answers 404 for a deleted project and its task list', async () => {
    const created = await sim.post('/api/1.0/projects', { data: { name: 'Temp', team: teamGid() } });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ resource_type: 'project', name: 'Temp', archived: false });
    const gid = created.body.data.gid as string;
    const renamed = await sim.put(`/api/1.0/projects/${gid}`, { data: { name: 'Temp 2', archived: true } });
    expect(renamed.body.data).toMatchObject({ name: 'Temp 2', archived: true });
    expect((await sim.delete(`/api/1.0/projects/${gid}`)).body).toEqual({ data: {} });
    expect((await sim.get(`/api/1.0/projects/${gid}`)).status).toBe(404);
    expect((await sim.get(`/api/1.0/projects/${gid}/tasks`)).status).toBe(404);
  });

  it('selects project fields with opt_fields', async () => {
    const project = sim.workspace.seededProjects()[0];
    const res = await sim.get(`/api/1.0/projects/${project.gid}?opt_fields=name,owner.name,archived`);
    expect(res.body.data).toEqual({
      gid: project.gid,
      name: project.name,
      archived: false,
      owner: { gid: sim.workspace.me().gid, name: sim.workspace.me().name },
    });
  });

  it("lists the workspace's projects and requires a workspace or team", async () => {
    const res = await sim.get(`/api/1.0/projects?workspace=${sim.workspace.workspace.gid}&limit=1`);
    expect(res.body.data).toHaveLength(1);
    expect(res.body.next_page).not.toBeNull();
    expect((await sim.get('/api/1.0/projects')).status).toBe(400);
  });
});
