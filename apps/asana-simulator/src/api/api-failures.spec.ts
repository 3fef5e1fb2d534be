import request from 'supertest';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('injected API failures (/_sim/api-failures)', () => {
  let sim: RunningSimulator;

  beforeEach(async () => {
    sim = await startSimulator({ SIM_RATE_LIMIT_REQUESTS: '3', SIM_RATE_LIMIT_WINDOW_SECONDS: '60' });
  });

  afterEach(() => sim.close());

  const control = () => request(sim.baseUrl);

  it('fails the next N API requests with the status asked for, then serves again', async () => {
    const set = await control().post('/_sim/api-failures').send({ count: 2, status: 502 });
    expect(set.body.data).toEqual({ pending: 2, status: 502, injected: 0, gids: {} });

    const first = await sim.get('/api/1.0/users/me');
    const second = await sim.get('/api/1.0/users/me');
    const third = await sim.get('/api/1.0/users/me');

    expect([first.status, second.status, third.status]).toEqual([502, 502, 200]);
    expect(first.body.errors[0]).toMatchObject({
      message: 'The service is temporarily unavailable',
      phrase: expect.stringMatching(/^\d+ \w+ \w+ \w+ \w+$/),
    });
    expect((await control().get('/_sim/api-failures')).body.data).toEqual({
      pending: 0,
      status: null,
      injected: 2,
      gids: {},
    });
  });

  it('answers 500 with "Server Error", 503 when no status is given, and counts failed requests against the budget', async () => {
    await control().post('/_sim/api-failures').send({ count: 1, status: 500 });
    const failed = await sim.get('/api/1.0/users/me');
    expect([failed.status, failed.body.errors[0].message]).toEqual([500, 'Server Error']);
    await control().post('/_sim/api-failures').send({ count: 1 });
    expect((await sim.get('/api/1.0/users/me')).status).toBe(503);
    // Two failed requests and one served: the budget of 3 is spent.
    expect((await sim.get('/api/1.0/users/me')).status).toBe(200);
    expect((await sim.get('/api/1.0/users/me')).status).toBe(429);
  });

  it('refuses a count, status or gid it cannot inject, and count 0 cancels what is pending', async () => {
    const bad = [
      {},
      { count: -1 },
      { count: 1.5 },
      { count: 10_001 },
      { count: 'always' },
      { count: 1, status: 401 },
      { count: 1, status: 429 },
      { count: 1, status: 200 },
      { count: 1, status: '503' },
      { count: 1, gid: 1208000000000001 },
      { count: 1, gid: 'me' },
    ];
    for (const body of bad) {
      const refused = await control().post('/_sim/api-failures').send(body);
      expect([body, refused.status]).toEqual([body, 400]);
    }
    await control().post('/_sim/api-failures').send({ count: 5 });
    await control().post('/_sim/api-failures').send({ count: 0 });
    expect((await sim.get('/api/1.0/users/me')).status).toBe(200);
  });
});

describe('injected API failures for one gid (/_sim/api-failures with a gid)', () => {
  let sim: RunningSimulator;

  beforeEach(async () => {
    sim = await startSimulator();
  });

  afterEach(() => sim.close());

  const control = () => request(sim.baseUrl);

  it("answers that gid's requests with the status forever, in Asana's error body, and serves every other", async () => {
    const [project] = sim.workspace.seededProjects();
    const [refused, served] = sim.workspace.allTasks();
    const set = await control().post('/_sim/api-failures').send({ gid: refused.gid, count: 'forever', status: 400 });
    expect(set.body.data.gids).toEqual({ [refused.gid]: { pending: 'forever', status: 400, injected: 0 } });

    const answers = [];
    for (let i = 0; i < 5; i += 1) answers.push(await sim.get(`/api/1.0/tasks/${refused.gid}?opt_fields=name`));

    expect(answers.map((answer) => answer.status)).toEqual([400, 400, 400, 400, 400]);
    // Asana's shape for a refusal: a message and help, no phrase (that is for 500s).
    expect(answers[0].body).toEqual({ errors: [{ message: 'Invalid Request', help: expect.any(String) }] });
    expect((await sim.put(`/api/1.0/tasks/${refused.gid}`, { data: { name: 'x' } })).status).toBe(400);
    expect((await sim.get(`/api/1.0/tasks/${served.gid}`)).status).toBe(200);
    expect((await sim.get(`/api/1.0/projects/${project.gid}/tasks`)).status).toBe(200);
    expect((await sim.get('/api/1.0/users/me')).status).toBe(200);
    expect((await control().get('/_sim/api-failures')).body.data).toEqual({
      pending: 0,
      status: null,
      injected: 0,
      gids: { [refused.gid]: { pending: 'forever', status: 400, injected: 6 } },
    });
  });

  it("fails a request whose path names the gid anywhere, with that gid's failures before every request's", async () => {
    const [project] = sim.workspace.seededProjects();
    const [task] = sim.workspace.allTasks();
    await control().post('/_sim/api-failures').send({ gid: project.gid, count: 2, status: 404 });
    await control().post('/_sim/api-failures').send({ count: 1, status: 503 });

    const projectTasks = await sim.get(`/api/1.0/projects/${project.gid}/tasks`);
    const projectItself = await sim.get(`/api/1.0/projects/${project.gid}`);
    const anotherResource = await sim.get(`/api/1.0/tasks/${task.gid}`);
    const projectAgain = await sim.get(`/api/1.0/projects/${project.gid}`);

    expect([projectTasks.status, projectItself.status, anotherResource.status, projectAgain.status]).toEqual([
      404, 404, 503, 200,
    ]);
    expect((await control().get('/_sim/api-failures')).body.data).toEqual({
      pending: 0,
      status: null,
      injected: 1,
      gids: { [project.gid]: { pending: 0, status: null, injected: 2 } },
    });
  });

  it('stops failing the gid when its count is set to 0, leaving other gids failing', async () => {
    const [first, second] = sim.workspace.allTasks();
    for (const gid of [first.gid, second.gid]) {
      await control().post('/_sim/api-failures').send({ gid, count: 'forever', status: 451 });
    }
    expect((await sim.get(`/api/1.0/tasks/${first.gid}`)).status).toBe(451);

    await control().post('/_sim/api-failures').send({ gid: first.gid, count: 0 });

    expect((await sim.get(`/api/1.0/tasks/${first.gid}`)).status).toBe(200);
    expect((await sim.get(`/api/1.0/tasks/${second.gid}`)).status).toBe(451);
  });
});
