import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { AsanaApiError, AsanaClient } from '@asana-stream/asana';
import { waitFor } from '@asana-stream/testing';
import { TestReceiver } from '../../test/receiver';
import { startSimulator, TEST_TOKEN, type RunningSimulator } from '../../test/simulator-harness';

describe("the simulated API under Asana's rate limits", () => {
  let sim: RunningSimulator | undefined;
  let receiver: TestReceiver | undefined;

  afterEach(async () => {
    await sim?.close();
    await receiver?.stop();
    sim = undefined;
    receiver = undefined;
  });

  it('answers 429 with Retry-After past the budget, and serves again after waiting that long', async () => {
    sim = await startSimulator({ SIM_RATE_LIMIT_REQUESTS: '3', SIM_RATE_LIMIT_WINDOW_SECONDS: '2' });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await sim.get('/api/1.0/users/me')).status);
    expect(statuses).toEqual([200, 200, 200]);

    const refused = await sim.get('/api/1.0/users/me');

    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^[12]$/);
    expect(refused.body).toEqual({
      errors: [
        {
          message: 'You have made too many requests recently. Please, be chill.',
          help: expect.stringContaining('developers.asana.com'),
        },
      ],
    });
    await sleep(Number(refused.headers['retry-after']) * 1000 + 50);
    expect((await sim.get('/api/1.0/users/me')).status).toBe(200);
  });

  it('spends no budget on requests that fail authentication, nor on /_sim', async () => {
    sim = await startSimulator({ SIM_RATE_LIMIT_REQUESTS: '1', SIM_RATE_LIMIT_WINDOW_SECONDS: '60' });
    for (let i = 0; i < 3; i += 1) {
      expect((await request(sim.baseUrl).get('/api/1.0/users/me').set('Authorization', 'Bearer wrong')).status).toBe(
        401,
      );
      expect((await request(sim.baseUrl).get('/_sim/state')).status).toBe(200);
    }
    expect((await sim.get('/api/1.0/users/me')).status).toBe(200);
    expect((await sim.get('/api/1.0/users/me')).status).toBe(429);
    const stats = await request(sim.baseUrl).get('/_sim/rate-limits');
    expect(stats.body.data).toMatchObject({ requestsPerWindow: 1, windowSeconds: 60, admitted: 1, rateLimited: 1 });
  });

  it('answers 429 without Retry-After to a write past the writes in flight', async () => {
    sim = await startSimulator({ SIM_MAX_CONCURRENT_WRITES: '1' });
    receiver = await new TestReceiver().start();
    // The handshake runs inside POST /webhooks: a slow receiver keeps that write in flight.
    const secretEcho = receiver.reply;
    receiver.reply = (req) => ({ ...secretEcho(req), delayMs: 500 });
    const projectGid = sim.workspace.seededProjects()[0].gid;
    const slowWrite = sim.post('/api/1.0/webhooks', { data: { resource: projectGid, target: `${receiver.url}/h` } });
    const slowWriteDone = slowWrite.then((res) => res.status);
    await waitFor('the handshake at the receiver', () => receiver!.requests.length > 0);

    const [refusedWrite, read] = await Promise.all([
      sim.post('/api/1.0/tasks', { data: { name: 'too many writes', projects: [projectGid] } }),
      sim.get('/api/1.0/users/me'),
    ]);

    expect(refusedWrite.status).toBe(429);
    expect(refusedWrite.headers['retry-after']).toBeUndefined();
    expect(read.status).toBe(200);
    expect(await slowWriteDone).toBe(201);
    // Nothing of the refused write happened, and the slot is free again.
    expect(sim.workspace.allTasks().some((task) => task.name === 'too many writes')).toBe(false);
    const later = await sim.post('/api/1.0/tasks', { data: { name: 'in time', projects: [projectGid] } });
    expect(later.status).toBe(201);
  });

  it('reports at /_sim/rate-limits/in-flight the most reads the token had in flight at once', async () => {
    sim = await startSimulator({ SIM_MAX_CONCURRENT_READS: '50' });
    const taskGid = sim.workspace.projectTaskHistory(sim.workspace.seededProjects()[0].gid)[0].gid;
    const before = await request(sim.baseUrl).get('/_sim/rate-limits/in-flight');
    expect(before.body.data).toEqual({ mostReads: 0, mostWrites: 0 });

    const statuses = await Promise.all(
      Array.from({ length: 5 }, () => sim!.get(`/api/1.0/tasks/${taskGid}`).then((res) => res.status)),
    );

    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    const after = await request(sim.baseUrl).get('/_sim/rate-limits/in-flight');
    expect(after.body.data.mostWrites).toBe(0);
    expect(after.body.data.mostReads).toBeGreaterThanOrEqual(1);
    expect(after.body.data.mostReads).toBeLessThanOrEqual(5);
  });

  it("gives asana-stream's AsanaClient a RATE_LIMITED error carrying Retry-After", async () => {
    sim = await startSimulator({ SIM_RATE_LIMIT_REQUESTS: '1', SIM_RATE_LIMIT_WINDOW_SECONDS: '30' });
    const client = new AsanaClient({ baseUrl: `${sim.baseUrl}/api/1.0`, token: TEST_TOKEN });
    const taskGid = sim.workspace.projectTaskHistory(sim.workspace.seededProjects()[0].gid)[0].gid;
    await client.getResource('task', taskGid);

    const error = await client.getResource('task', taskGid).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AsanaApiError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 429, retriable: true });
    const { retryAfterMs } = error as AsanaApiError;
    expect(retryAfterMs).toBeGreaterThanOrEqual(29_000);
    expect(retryAfterMs).toBeLessThanOrEqual(30_000);
  });
});
