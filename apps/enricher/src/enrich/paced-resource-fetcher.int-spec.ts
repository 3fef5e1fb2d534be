import request from 'supertest';
import { AsanaClient } from '@asana-stream/asana';
import { startSimulatorProcess, type SimulatorProcess } from '@asana-stream/testing';
import { PacedResourceFetcher } from './paced-resource-fetcher';

// The simulator runs as a process through its production entrypoint (apps never import each
// other's code), and the pauses are real seconds: an integration test.
describe('PacedResourceFetcher against the simulated API under rate limits', () => {
  let sim: SimulatorProcess;

  beforeAll(async () => {
    // 3 requests per 2-second window, far below what the fetcher's own budget would allow.
    sim = await startSimulatorProcess({
      SIM_RATE_LIMIT_REQUESTS: '3',
      SIM_RATE_LIMIT_WINDOW_SECONDS: '2',
      SIM_SEED_TASKS_PER_PROJECT: '8',
    });
  });

  afterAll(async () => {
    await sim?.stop();
  });

  it('fetches every resource despite 429s, asking again only once Retry-After has passed', async () => {
    const client = new AsanaClient({ baseUrl: sim.apiUrl, token: sim.token });
    const fetcher = new PacedResourceFetcher(client, 6_000);
    const gids = await sim.firstProjectTaskGids();
    expect(gids).toHaveLength(8);
    let heartbeats = 0;

    const fetched = [];
    for (const gid of gids) {
      const whileWaiting = () => Promise.resolve(void (heartbeats += 1));
      fetched.push(await fetcher.getResource('task', gid, ['name'], { whileWaiting }));
    }

    expect(fetched.map((task) => task.gid)).toEqual(gids);
    const { body } = await request(sim.baseUrl).get('/_sim/rate-limits');
    expect(body.data.admitted).toBe(8);
    // 8 requests at 3 a window need 3 windows; each 429 makes the fetcher wait for the next
    // window, so at most one request is refused per window (asking again at once would be refused
    // until the window ended).
    expect(body.data.rateLimited).toBeGreaterThanOrEqual(1);
    expect(body.data.rateLimited).toBeLessThanOrEqual(2);
    expect(heartbeats).toBeGreaterThanOrEqual(1);
  });

  it('rides out an API outage: pauses 1 s, then 2 s, and returns the resource', async () => {
    const outage = await startSimulatorProcess();
    try {
      const client = new AsanaClient({ baseUrl: outage.apiUrl, token: outage.token });
      const fetcher = new PacedResourceFetcher(client, 6_000);
      const [gid] = await outage.firstProjectTaskGids();
      await request(outage.baseUrl).post('/_sim/api-failures').send({ count: 2, status: 503 }).expect(200);
      const started = Date.now();

      const task = await fetcher.getResource('task', gid, ['name']);

      expect(task.gid).toBe(gid);
      expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
      const { body } = await request(outage.baseUrl).get('/_sim/api-failures');
      expect(body.data).toEqual({ pending: 0, status: null, injected: 2, gids: {} });
    } finally {
      await outage.stop();
    }
  });
});
