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
    expect(set.body.data).toEqual({ pending: 2, status: 502, injected: 0 });

    const first = await sim.get('/api/1.0/users/me');
    const second = await sim.get('/api/1.0/users/me');
    const third = await sim.get('/api/1.0/users/me');

    expect([first.status, second.status, third.status]).toEqual([502, 502, 200]);
    expect(first.body.errors[0]).toMatchObject({
      message: 'The service is temporarily unavailable',
      phrase: expect.stringMatching(/^\d+ \w+ \w+ \w+ \w+$/),
    });
    expect((await control().get('/_sim/api-failures')).body.data).toEqual({ pending: 0, status: null, injected: 2 });
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

  it('refuses a count or status it cannot inject, and count 0 cancels what is pending', async () => {
    for (const bad of [{}, { count: -1 }, { count: 1.5 }, { count: 1, status: 404 }, { count: 1, status: '503' }]) {
      const refused = await control().post('/_sim/api-failures').send(bad);
      expect(refused.status).toBe(400);
    }
    await control().post('/_sim/api-failures').send({ count: 5 });
    await control().post('/_sim/api-failures').send({ count: 0 });
    expect((await sim.get('/api/1.0/users/me')).status).toBe(200);
  });
});
