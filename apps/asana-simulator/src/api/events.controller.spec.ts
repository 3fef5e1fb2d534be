import type { AsanaDelivery, AsanaEvent } from '@asana-stream/asana';
import { waitFor } from '@asana-stream/testing';
import request from 'supertest';
import { SYNC_TOKEN_EXPIRED_MESSAGE } from '../events/event-stream';
import { TestReceiver } from '../../test/receiver';
import { ManualClock, startSimulator, type RunningSimulator } from '../../test/simulator-harness';

const DAY = 24 * 60 * 60 * 1000;

describe('EventsController (HTTP GET /api/1.0/events)', () => {
  let sim: RunningSimulator;
  let clock: ManualClock;
  let projectGid: string;
  let taskGid: string;

  beforeEach(async () => {
    clock = new ManualClock();
    sim = await startSimulator({}, { clock });
    projectGid = sim.workspace.seededProjects()[0].gid;
    taskGid = sim.workspace.projectTaskHistory(projectGid)[0].gid;
  });

  afterEach(() => sim.close());

  /** The token of a 412, checking its body is Asana's. */
  async function syncToken(resource: string, sync?: string): Promise<string> {
    const query = sync === undefined ? '' : `&sync=${encodeURIComponent(sync)}`;
    const res = await sim.get(`/api/1.0/events?resource=${resource}${query}`);
    expect(res.status).toBe(412);
    expect(res.body).toEqual({
      errors: [{ message: SYNC_TOKEN_EXPIRED_MESSAGE, help: expect.stringContaining('errors') }],
      sync: expect.stringMatching(/^[\w-]+$/),
    });
    return res.body.sync as string;
  }

  const events = (resource: string, sync: string) =>
    sim.get(`/api/1.0/events?resource=${resource}&sync=${encodeURIComponent(sync)}`);

  it('answers 412 with a token first, then 200 with the events since, a new token and has_more', async () => {
    const sync = await syncToken(projectGid);
    await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { name: 'Renamed' } });

    const res = await events(projectGid, sync);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [
        {
          user: { gid: sim.workspace.me().gid, resource_type: 'user' },
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
          action: 'changed',
          resource: { gid: taskGid, resource_type: 'task', resource_subtype: 'default_task' },
          parent: null,
          change: { field: 'name', action: 'changed' },
        },
      ],
      sync: expect.any(String),
      has_more: false,
    });
    const after = await events(projectGid, res.body.sync);
    expect(after.body).toEqual({ data: [], sync: expect.any(String), has_more: false });
  });

  it('pages more than 100 events with has_more, in the order they happened', async () => {
    let sync = await syncToken(taskGid);
    for (let i = 0; i < 110; i += 1) sim.workspace.updateTask(taskGid, { name: `n${i}` }, null);
    const first = await events(taskGid, sync);
    expect(first.body.data).toHaveLength(100);
    expect(first.body.has_more).toBe(true);
    sync = first.body.sync;
    const second = await events(taskGid, sync);
    expect(second.body.data).toHaveLength(10);
    expect(second.body.has_more).toBe(false);
    const times = [...first.body.data, ...second.body.data].map((e: AsanaEvent) => Date.parse(e.created_at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(first.body.data[0].user).toBeNull();
  });

  it('expires tokens after 24 hours of the simulator clock, and events with them', async () => {
    const sync = await syncToken(taskGid);
    await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { completed: true } });
    clock.advance(DAY - 1);
    expect((await events(taskGid, sync)).body.data).toHaveLength(2);

    clock.advance(1);
    const renewed = await syncToken(taskGid, sync);
    const res = await events(taskGid, renewed);
    expect(res.body).toEqual({ data: [], sync: expect.any(String), has_more: false });
  });

  it('expires every token on POST /_sim/events/expire-sync-tokens', async () => {
    const sync = await syncToken(taskGid);
    expect((await events(taskGid, sync)).status).toBe(200);
    const res = await request(sim.baseUrl).post('/_sim/events/expire-sync-tokens');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: {} });
    await syncToken(taskGid, sync);
  });

  it('returns the same event JSON a webhook on the resource is delivered for the same changes', async () => {
    const receiver = await new TestReceiver().start();
    try {
      const hook = await sim.post('/api/1.0/webhooks', { data: { resource: projectGid, target: `${receiver.url}/h` } });
      expect(hook.status).toBe(201);
      const sync = await syncToken(projectGid);

      const created = await sim.post('/api/1.0/tasks', { data: { name: 'Both ways', projects: [projectGid] } });
      await sim.put(`/api/1.0/tasks/${created.body.data.gid}`, { data: { assignee: 'me', completed: true } });
      await sim.put(`/api/1.0/projects/${projectGid}`, { data: { notes: 'n' } });
      await sim.delete(`/api/1.0/tasks/${taskGid}`);

      const delivered = (): AsanaEvent[] =>
        receiver.requests
          .filter((r) => r.headers['x-hook-signature'] !== undefined)
          .flatMap((r) => (JSON.parse(r.rawBody.toString('utf8')) as AsanaDelivery).events);
      await waitFor('the deliveries', () => delivered().length === 6);
      const polled = (await events(projectGid, sync)).body.data as AsanaEvent[];
      expect(polled.map((e) => e.action)).toEqual(['added', 'changed', 'changed', 'changed', 'changed', 'deleted']);
      expect(polled).toEqual(delivered());
    } finally {
      await receiver.stop();
    }
  });

  it('answers 400 without a resource, 404 for an unknown or trashed one, 400 for a workspace', async () => {
    const missing = await sim.get('/api/1.0/events');
    expect(missing.status).toBe(400);
    expect(missing.body.errors[0].message).toBe('resource: Missing input');

    const unknown = await sim.get('/api/1.0/events?resource=1234567890123456');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors[0].message).toBe('Unknown object: 1234567890123456');

    await sim.delete(`/api/1.0/tasks/${taskGid}`);
    expect((await sim.get(`/api/1.0/events?resource=${taskGid}`)).status).toBe(404);
    expect((await sim.get(`/api/1.0/events?resource=${sim.workspace.workspace.gid}`)).status).toBe(400);
  });

  it('requires the bearer token and counts against the rate limits like every other route', async () => {
    const unauthorized = await request(sim.baseUrl).get(`/api/1.0/events?resource=${taskGid}`);
    expect(unauthorized.status).toBe(401);

    const limited = await startSimulator({ SIM_RATE_LIMIT_REQUESTS: '1', SIM_RATE_LIMIT_WINDOW_SECONDS: '60' });
    try {
      expect((await limited.get(`/api/1.0/events?resource=${taskGid}`)).status).toBe(412);
      const refused = await limited.get(`/api/1.0/events?resource=${taskGid}`);
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    } finally {
      await limited.close();
    }
  });
});
