import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('SectionsController (HTTP)', () => {
  let sim: RunningSimulator;
  let projectGid: string;

  beforeEach(async () => {
    sim = await startSimulator();
    projectGid = (await sim.post('/api/1.0/projects', { data: { name: 'Board', team: sim.workspace.team.gid } })).body
      .data.gid;
  });

  afterEach(() => sim.close());

  const sectionNames = async () =>
    ((await sim.get(`/api/1.0/projects/${projectGid}/sections`)).body.data as { name: string }[]).map((s) => s.name);

  it('starts a project with "Untitled section", where its tasks sit (memberships)', async () => {
    const res = await sim.get(`/api/1.0/projects/${projectGid}/sections`);
    expect(res.body.data).toEqual([{ gid: expect.any(String), resource_type: 'section', name: 'Untitled section' }]);
    const task = await sim.post('/api/1.0/tasks', { data: { name: 't', projects: [projectGid] } });
    expect(task.body.data.memberships).toEqual([
      {
        project: { gid: projectGid, resource_type: 'project', name: 'Board' },
        section: { gid: res.body.data[0].gid, resource_type: 'section', name: 'Untitled section' },
      },
    ]);
  });

  it('creates a section with 201 and the full record, readable at /sections/{gid}', async () => {
    const res = await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: { name: 'Doing' } });
    expect(res.status).toBe(201);
    const project = { gid: projectGid, resource_type: 'project', name: 'Board' };
    expect(res.body.data).toEqual({
      gid: expect.any(String),
      resource_type: 'section',
      name: 'Doing',
      created_at: expect.any(String),
      project,
      projects: [project],
    });
    expect((await sim.get(`/api/1.0/sections/${res.body.data.gid}`)).body).toEqual(res.body);
    const some = await sim.get(`/api/1.0/sections/${res.body.data.gid}?opt_fields=name,project.name`);
    expect(some.body.data).toEqual({
      gid: res.body.data.gid,
      name: 'Doing',
      project: { gid: projectGid, name: 'Board' },
    });
    expect(await sectionNames()).toEqual(['Untitled section', 'Doing']);
  });

  it('inserts before or after another section of the project', async () => {
    const [untitled] = (await sim.get(`/api/1.0/projects/${projectGid}/sections`)).body.data as { gid: string }[];
    await sim.post(`/api/1.0/projects/${projectGid}/sections`, {
      data: { name: 'First', insert_before: untitled.gid },
    });
    await sim.post(`/api/1.0/projects/${projectGid}/sections`, {
      data: { name: 'Second', insert_after: untitled.gid },
    });
    expect(await sectionNames()).toEqual(['First', 'Untitled section', 'Second']);
  });

  it('pages through the sections with limit and offset', async () => {
    for (const name of ['A', 'B', 'C']) await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: { name } });
    const first = await sim.get(`/api/1.0/projects/${projectGid}/sections?limit=3`);
    expect(first.body.data).toHaveLength(3);
    const last = await sim.get(`/api/1.0${first.body.next_page.path}`);
    expect((last.body.data as { name: string }[]).map((s) => s.name)).toEqual(['C']);
    expect(last.body.next_page).toBeNull();
  });

  it('deletes an empty section, then answers 404 for it; refuses a non-empty or last one with 400', async () => {
    const [untitled] = (await sim.get(`/api/1.0/projects/${projectGid}/sections`)).body.data as { gid: string }[];
    expect((await sim.delete(`/api/1.0/sections/${untitled.gid}`)).status).toBe(400);
    const extra = (await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: { name: 'Extra' } })).body.data;
    await sim.post('/api/1.0/tasks', { data: { name: 't', projects: [projectGid] } });
    const occupied = await sim.delete(`/api/1.0/sections/${untitled.gid}`);
    expect(occupied.status).toBe(400);
    expect(occupied.body.errors[0].message).toMatch(/must be empty/);
    const res = await sim.delete(`/api/1.0/sections/${extra.gid}`);
    expect(res.body).toEqual({ data: {} });
    for (const res404 of [
      await sim.get(`/api/1.0/sections/${extra.gid}`),
      await sim.delete(`/api/1.0/sections/${extra.gid}`),
    ]) {
      expect(res404.status).toBe(404);
      expect(res404.body.errors[0].message).toBe(`Unknown object: ${extra.gid}`);
    }
  });

  it("answers 404 for a trashed project's sections and unknown gids; 400 for a section without a name", async () => {
    const [untitled] = (await sim.get(`/api/1.0/projects/${projectGid}/sections`)).body.data as { gid: string }[];
    expect((await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: {} })).status).toBe(400);
    await sim.delete(`/api/1.0/projects/${projectGid}`);
    for (const res of [
      await sim.get(`/api/1.0/sections/${untitled.gid}`),
      await sim.get(`/api/1.0/projects/${projectGid}/sections`),
      await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: { name: 'x' } }),
      await sim.get('/api/1.0/sections/1234567890123456'),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.errors[0].message).toMatch(/^Unknown object: \d+$/);
    }
  });

  it('records a section "added" event with the project as parent, for the Events API', async () => {
    const first = await sim.get(`/api/1.0/events?resource=${projectGid}`);
    const section = (await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: { name: 'Doing' } })).body.data;
    const res = await sim.get(`/api/1.0/events?resource=${projectGid}&sync=${first.body.sync}`);
    expect(res.body.data).toEqual([
      {
        user: { gid: sim.workspace.me().gid, resource_type: 'user' },
        created_at: section.created_at,
        action: 'added',
        resource: { gid: section.gid, resource_type: 'section' },
        parent: { gid: projectGid, resource_type: 'project' },
      },
    ]);
  });
});
