import request from 'supertest';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';
import { TestReceiver } from '../../test/receiver';
import { waitFor } from '@asana-stream/testing';

describe('ControlController (/_sim)', () => {
  let sim: RunningSimulator;

  beforeEach(async () => {
    sim = await startSimulator();
  });

  afterEach(() => sim.close());

  const control = () => request(sim.baseUrl);

  it('undeletes a trashed task without auth, so the API shows it again', async () => {
    const task = sim.workspace.allTasks()[0];
    await sim.delete(`/api/1.0/tasks/${task.gid}`);
    const res = await control().post(`/_sim/tasks/${task.gid}/undelete`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ gid: task.gid, resource_type: 'task' });
    expect((await sim.get(`/api/1.0/tasks/${task.gid}`)).status).toBe(200);
    expect((await control().post(`/_sim/tasks/${task.gid}/undelete`)).status).toBe(400);
    expect((await control().post('/_sim/tasks/1/undelete')).status).toBe(404);
  });

  it('shows every project and task with a deleted flag, as the API renders them', async () => {
    const [task] = sim.workspace.allTasks();
    await sim.delete(`/api/1.0/tasks/${task.gid}`);
    const { data } = (await control().get('/_sim/state')).body;
    expect(data.projects).toHaveLength(2);
    expect(data.tasks).toHaveLength(sim.workspace.allTasks().length);
    const tasks = data.tasks as { gid: string }[];
    const trashed = tasks.find((t) => t.gid === task.gid);
    expect(trashed).toMatchObject({ deleted: true, name: task.name, resource_type: 'task' });
    const live = tasks.find((t) => t.gid !== task.gid)!;
    const viaApi = (await sim.get(`/api/1.0/tasks/${live.gid}`)).body.data;
    expect(live).toEqual({ ...viaApi, deleted: false });
  });

  it('counts and logs deliveries per webhook', async () => {
    const receiver = await new TestReceiver().start();
    try {
      const project = sim.workspace.seededProjects()[0];
      const hook = await sim.post('/api/1.0/webhooks', {
        data: { resource: project.gid, target: `${receiver.url}/h` },
      });
      await waitFor(
        'the heartbeat',
        async () => (await control().get('/_sim/deliveries')).body.data.counts.delivered === 1,
      );
      const { data } = (await control().get(`/_sim/deliveries?webhook=${hook.body.data.gid}`)).body;
      expect(data.counts).toMatchObject({ attempts: 1, delivered: 1, heartbeats_delivered: 1, failed: 0 });
      expect(data.log).toEqual([
        expect.objectContaining({
          webhook: hook.body.data.gid,
          events: 0,
          attempt: 1,
          status: 'delivered',
          http_status: 200,
        }),
      ]);
    } finally {
      await receiver.stop();
    }
  });

  it('starts traffic with 202, reports its progress, and the changes reach the API', async () => {
    const before = sim.workspace.allTasks().map((t) => t.modifiedAt);
    const started = await control().post('/_sim/traffic').send({ changes: 10, ratePerSecond: 500 });
    expect(started.status).toBe(202);
    const id = started.body.data.id as string;
    const finished = await waitFor('traffic to finish', async () => {
      const run = (await control().get(`/_sim/traffic/${id}`)).body.data as { status: string; done: number };
      return run.status === 'finished' && run;
    });
    expect(finished.done).toBe(10);
    expect((await control().get('/_sim/traffic')).body.data).toHaveLength(1);
    const after = sim.workspace.allTasks();
    expect(after.length > before.length || after.some((t, i) => t.modifiedAt !== before[i])).toBe(true);
    expect((await control().post('/_sim/traffic').send({ changes: 5 })).status).toBe(400);
  });

  it("answers the health paths the apps' probes use", async () => {
    for (const path of ['/health', '/health/live', '/health/ready']) {
      expect((await control().get(path)).body).toEqual({ status: 'ok' });
    }
  });
  it('sets the webhook fault rates, refusing rates outside 0 to 1, and they strike real deliveries', async () => {
    expect((await control().get('/_sim/faults')).body.data).toEqual({
      drop: 0,
      duplicate: 0,
      reorder: 0,
      dropped: 0,
      duplicated: 0,
      reordered: 0,
    });
    for (const bad of [{ drop: 2 }, { duplicate: -0.1 }, { reorder: '0.5' }]) {
      const refused = await control().put('/_sim/faults').send(bad);
      expect(refused.status).toBe(400);
      expect(refused.body.errors[0].message).toMatch(/must be a number from 0 to 1/);
    }
    const set = await control().put('/_sim/faults').send({ duplicate: 1 });
    expect(set.body.data).toMatchObject({ drop: 0, duplicate: 1, reorder: 0 });

    const receiver = await new TestReceiver().start();
    try {
      const project = sim.workspace.seededProjects()[0];
      const created = await sim.post('/api/1.0/webhooks', {
        data: { resource: project.gid, target: `${receiver.url}/h` },
      });
      expect(created.status).toBe(201);
      // The heartbeat that follows creation is a signed delivery: it arrives twice.
      await waitFor('the heartbeat and its copy', () => receiver.deliveries('/h').length >= 2);
      const [first, copy] = receiver.deliveries('/h');
      expect(copy.rawBody.equals(first.rawBody)).toBe(true);
      expect(copy.headers['x-hook-signature']).toBe(first.headers['x-hook-signature']);
      expect((await control().get('/_sim/faults')).body.data.duplicated).toBeGreaterThanOrEqual(1);
    } finally {
      await receiver.stop();
    }
  });
});
