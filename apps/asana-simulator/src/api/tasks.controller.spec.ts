import request from 'supertest';
import { ManualClock, startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('TasksController (HTTP)', () => {
  let sim: RunningSimulator;
  let projectGid: string;
  let taskGid: string;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.close());

  beforeEach(async () => {
    projectGid = sim.workspace.seededProjects()[0].gid;
    const res = await sim.post('/api/1.0/tasks', { data: { name: 'HTTP task', projects: [projectGid] } });
    taskGid = res.body.data.gid;
  });

  it("refuses requests without the bearer token, or with a wrong one, with Asana's 401 body", async () => {
    for (const auth of [undefined, 'Bearer nope', 'Basic dGVzdA==']) {
      const req = request(sim.baseUrl).get(`/api/1.0/tasks/${taskGid}`);
      const res = await (auth ? req.set('Authorization', auth) : req);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ errors: [{ message: 'Not Authorized', help: expect.stringContaining('errors') }] });
    }
  });

  it("answers an unknown route under /api/1.0 with Asana's 404 body", async () => {
    const res = await sim.get('/api/1.0/no/such/route');
    expect(res.status).toBe(404);
    expect(res.body.errors[0].message).toBe('No matching route for request');
  });

  it('creates a task with 201 and returns the full task', async () => {
    const assignee = sim.workspace.allUsers()[1];
    const res = await sim.post('/api/1.0/tasks', {
      data: { name: 'Created', notes: 'n', projects: [projectGid], assignee: assignee.gid },
    });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      resource_type: 'task',
      name: 'Created',
      notes: 'n',
      assignee: { gid: assignee.gid, resource_type: 'user', name: assignee.name },
      projects: [{ gid: projectGid }],
    });
  });

  it('returns the full task by default and only gid plus the requested fields with opt_fields', async () => {
    const full = await sim.get(`/api/1.0/tasks/${taskGid}`);
    expect(full.body.data).toHaveProperty('memberships');
    expect(full.body.data).toHaveProperty('permalink_url');
    const some = await sim.get(`/api/1.0/tasks/${taskGid}?opt_fields=name,projects.name,modified_at`);
    expect(some.body.data).toEqual({
      gid: taskGid,
      name: 'HTTP task',
      projects: [{ gid: projectGid, name: 'Platform' }],
      modified_at: full.body.data.modified_at,
    });
  });

  it('updates name, notes, completed and assignee with PUT and bumps modified_at', async () => {
    const before = (await sim.get(`/api/1.0/tasks/${taskGid}`)).body.data;
    const res = await sim.put(`/api/1.0/tasks/${taskGid}`, {
      data: { name: 'Done', notes: 'all good', completed: true, assignee: 'me' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      name: 'Done',
      notes: 'all good',
      completed: true,
      completed_at: res.body.data.modified_at,
      assignee: { gid: sim.workspace.me().gid },
    });
    expect(Date.parse(res.body.data.modified_at)).toBeGreaterThan(Date.parse(before.modified_at));
  });

  it('deletes with 200 {"data":{}} and answers 404 for the deleted task afterwards', async () => {
    const res = await sim.delete(`/api/1.0/tasks/${taskGid}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: {} });
    for (const res404 of [
      await sim.get(`/api/1.0/tasks/${taskGid}`),
      await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { name: 'x' } }),
      await sim.delete(`/api/1.0/tasks/${taskGid}`),
    ]) {
      expect(res404.status).toBe(404);
      expect(res404.body.errors[0].message).toBe(`Unknown object: ${taskGid}`);
    }
  });

  it('answers 404 for a gid that never existed', async () => {
    expect((await sim.get('/api/1.0/tasks/1234567890123456')).status).toBe(404);
  });

  it("rejects malformed writes with 400 and Asana's error body", async () => {
    const cases: [object, RegExp][] = [
      [{ name: 'no data wrapper' }, /data: Missing input/],
      [{ data: { name: 7, projects: [projectGid] } }, /name: Value is not a string/],
      [{ data: { name: 'x', projects: ['1'] } }, /projects\[0\]: Not a recognized ID/],
      [{ data: { name: 'x' } }, /workspace, parent, projects/],
      [{ data: { name: 'x', projects: [projectGid], assignee: 'nobody@example.com' } }, /assignee/],
    ];
    for (const [body, message] of cases) {
      const res = await sim.post('/api/1.0/tasks', body);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].message).toMatch(message);
    }
    const notJson = await sim.post('/api/1.0/tasks').set('Content-Type', 'application/json').send('{oops');
    expect(notJson.status).toBe(400);
    expect(notJson.body.errors[0].message).toMatch(/invalid JSON/);
  });
});

describe('GET /tasks?project= (HTTP)', () => {
  const clock = new ManualClock();
  let sim: RunningSimulator;
  let projectGid: string;
  let seeded: string[];

  beforeAll(async () => {
    sim = await startSimulator({ SIM_SEED_TASKS_PER_PROJECT: '3' }, { clock });
    projectGid = sim.workspace.seededProjects()[0].gid;
    seeded = sim.workspace.projectTaskHistory(projectGid).map((task) => task.gid);
  });

  afterAll(() => sim.close());

  const gids = (res: { body: { data: { gid: string }[] } }) => res.body.data.map((task) => task.gid);

  it("lists the project's live tasks in project order as compact tasks, like GET /projects/{gid}/tasks", async () => {
    const res = await sim.get(`/api/1.0/tasks?project=${projectGid}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: seeded.map((gid) => ({
        gid,
        name: expect.any(String),
        resource_type: 'task',
        resource_subtype: 'default_task',
      })),
    });
    expect(res.body.data).toEqual((await sim.get(`/api/1.0/projects/${projectGid}/tasks`)).body.data);
  });

  it('lists only the tasks modified at or after modified_since, with the opt_fields asked for', async () => {
    clock.advance(60_000);
    const since = new Date(clock.now()).toISOString();
    await sim.put(`/api/1.0/tasks/${seeded[1]}`, { data: { name: 'Renamed' } });
    clock.advance(1_000);
    await sim.post(`/api/1.0/tasks/${seeded[2]}/stories`, { data: { text: 'a comment modifies the task' } });
    const res = await sim.get(`/api/1.0/tasks?project=${projectGid}&modified_since=${since}&opt_fields=modified_at`);
    expect(res.body.data).toEqual([
      { gid: seeded[1], modified_at: since },
      { gid: seeded[2], modified_at: new Date(Date.parse(since) + 1_000).toISOString() },
    ]);
    clock.advance(1);
    const later = new Date(clock.now()).toISOString();
    expect(gids(await sim.get(`/api/1.0/tasks?project=${projectGid}&modified_since=${later}`))).toEqual([]);
  });

  it('leaves trashed tasks out, though deleting modified them', async () => {
    const since = new Date(clock.now()).toISOString();
    const created = await sim.post('/api/1.0/tasks', { data: { name: 'Short-lived', projects: [projectGid] } });
    await sim.delete(`/api/1.0/tasks/${created.body.data.gid}`);
    expect(gids(await sim.get(`/api/1.0/tasks?project=${projectGid}&modified_since=${since}`))).toEqual([]);
  });

  it('pages with limit and offset, the offset keeping the modified_since filter', async () => {
    clock.advance(1_000);
    const since = new Date(clock.now()).toISOString();
    for (const gid of seeded) await sim.put(`/api/1.0/tasks/${gid}`, { data: { notes: 'again' } });
    const first = await sim.get(`/api/1.0/tasks?project=${projectGid}&modified_since=${since}&limit=2`);
    expect(gids(first)).toEqual(seeded.slice(0, 2));
    expect(first.body.next_page.path).toContain(`modified_since=${encodeURIComponent(since)}`);
    const second = await sim.get(`/api/1.0${first.body.next_page.path as string}`);
    expect(gids(second)).toEqual(seeded.slice(2));
    expect(second.body.next_page).toBeNull();
  });

  it("answers a missing project, an unknown one and a bad modified_since with 400 and Asana's wording", async () => {
    const cases: [string, RegExp][] = [
      ['/api/1.0/tasks', /Must specify exactly one of project, tag, section, user task list, or assignee \+ workspace/],
      ['/api/1.0/tasks?project=1234567890', /project: Not a recognized ID: 1234567890/],
      [`/api/1.0/tasks?project=${projectGid}&modified_since=yesterday`, /modified_since: Not a valid date-time/],
    ];
    for (const [path, message] of cases) {
      const res = await sim.get(path);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].message).toMatch(message);
    }
  });
});
