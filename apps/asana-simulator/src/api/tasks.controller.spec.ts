import request from 'supertest';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

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
