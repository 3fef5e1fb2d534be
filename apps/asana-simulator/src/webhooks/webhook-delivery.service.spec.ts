import { isValidAsanaSignature, type AsanaDelivery, type AsanaEvent, type AsanaWebhook } from '@asana-stream/asana';
import { TestReceiver, echoHandshake, type ReceivedRequest } from '../../test/receiver';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';
import { waitFor } from '@asana-stream/testing';

interface Webhook {
  gid: string;
  secret: string;
  path: string;
}

describe('WebhookDeliveryService (deliveries to a real receiver)', () => {
  let sim: RunningSimulator;
  let receiver: TestReceiver;
  let projectGid: string;
  let taskGid: string;

  async function setup(env: Record<string, string> = {}) {
    sim = await startSimulator(env);
    receiver = await new TestReceiver().start();
    projectGid = sim.workspace.seededProjects()[0].gid;
    taskGid = sim.workspace.projectTaskHistory(projectGid)[0].gid;
  }

  afterEach(async () => {
    await sim.close();
    await receiver.stop();
  });

  async function createWebhook(resource: string, path: string, filters?: object[]): Promise<Webhook> {
    const res = await sim.post('/api/1.0/webhooks', { data: { resource, target: `${receiver.url}${path}`, filters } });
    expect(res.status).toBe(201);
    return { gid: res.body.data.gid, secret: res.body['X-Hook-Secret'], path };
  }

  const bodies = (path: string) =>
    receiver.deliveries(path).map((r) => JSON.parse(r.rawBody.toString()) as AsanaDelivery);
  const events = (path: string): AsanaEvent[] => bodies(path).flatMap((b) => b.events);
  const heartbeatSeen = (path: string) => bodies(path).some((b) => b.events.length === 0);

  it('sends a signed heartbeat {"events":[]} right after creation', async () => {
    await setup();
    const hook = await createWebhook(projectGid, '/h');
    const [heartbeat] = await waitFor(
      'a heartbeat',
      () => receiver.deliveries('/h').length > 0 && receiver.deliveries('/h'),
    );
    expect(heartbeat.rawBody.toString()).toBe('{"events":[]}');
    expect(isValidAsanaSignature(hook.secret, heartbeat.rawBody, heartbeat.headers['x-hook-signature'] as string)).toBe(
      true,
    );
  });

  it('sends the creation heartbeat before the first events even when changes come at once', async () => {
    await setup({ SIM_DELIVERY_DELAY_MS: '100' });
    await createWebhook(projectGid, '/h');
    sim.workspace.updateTask(taskGid, { name: 'right away' }, null);
    await waitFor('the event', () => events('/h').length === 1);
    expect(bodies('/h').map((b) => b.events.length)).toEqual([0, 1]);
  });

  it('keeps sending heartbeats on the configured interval', async () => {
    await setup({ SIM_HEARTBEAT_INTERVAL_MS: '50' });
    await createWebhook(projectGid, '/h');
    await waitFor('three heartbeats', () => bodies('/h').filter((b) => b.events.length === 0).length >= 3);
  });

  it('delivers the events of tasks in a watched project as compact JSON, signed over the exact bytes', async () => {
    await setup();
    const hook = await createWebhook(projectGid, '/h');
    await waitFor('the heartbeat', () => heartbeatSeen('/h'));
    await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { name: 'Renamed' } });
    const delivery = await waitFor('a delivery with events', () =>
      receiver.deliveries('/h').find((r: ReceivedRequest) => r.rawBody.length > '{"events":[]}'.length),
    );
    expect(delivery.headers['content-type']).toBe('application/json');
    const raw = delivery.rawBody;
    expect(raw.toString()).toBe(JSON.stringify(JSON.parse(raw.toString())));
    expect(isValidAsanaSignature(hook.secret, raw, delivery.headers['x-hook-signature'] as string)).toBe(true);
    expect(isValidAsanaSignature('another-secret', raw, delivery.headers['x-hook-signature'] as string)).toBe(false);
    expect((JSON.parse(raw.toString()) as AsanaDelivery).events).toEqual([
      expect.objectContaining({
        action: 'changed',
        resource: { gid: taskGid, resource_type: 'task', resource_subtype: 'default_task' },
        change: { field: 'name', action: 'changed' },
      }),
    ]);
  });

  it('batches the events of changes made within the delivery window into one delivery, in order', async () => {
    await setup({ SIM_DELIVERY_DELAY_MS: '150' });
    await createWebhook(projectGid, '/h');
    await waitFor('the heartbeat', () => heartbeatSeen('/h'));
    sim.workspace.updateTask(taskGid, { name: 'one' }, null);
    sim.workspace.updateTask(taskGid, { completed: true }, null);
    sim.workspace.deleteTask(taskGid, null);
    await waitFor('the batch', () => bodies('/h').some((b) => b.events.length > 0));
    const batches = bodies('/h').filter((b) => b.events.length > 0);
    expect(batches).toHaveLength(1);
    expect(batches[0].events.map((e) => e.change?.field ?? e.action)).toEqual([
      'name',
      'completed',
      'completed_at',
      'deleted',
    ]);
  });

  it('splits a large batch into deliveries of at most SIM_MAX_EVENTS_PER_DELIVERY events', async () => {
    await setup({ SIM_MAX_EVENTS_PER_DELIVERY: '2', SIM_DELIVERY_DELAY_MS: '100' });
    await createWebhook(projectGid, '/h');
    await waitFor('the heartbeat', () => heartbeatSeen('/h'));
    for (const name of ['a', 'b', 'c', 'd', 'e']) sim.workspace.updateTask(taskGid, { name }, null);
    await waitFor('five events', () => events('/h').length === 5);
    expect(
      bodies('/h')
        .filter((b) => b.events.length > 0)
        .map((b) => b.events.length),
    ).toEqual([2, 2, 1]);
  });

  it('keeps one delivery in flight per webhook, and delivers in order', async () => {
    await setup({ SIM_MAX_EVENTS_PER_DELIVERY: '1', SIM_DELIVERY_DELAY_MS: '0' });
    await createWebhook(taskGid, '/h');
    await waitFor('the heartbeat', () => heartbeatSeen('/h'));
    receiver.reply = (r) => ({ ...echoHandshake(r), delayMs: 20 });
    const names = ['1', '2', '3', '4', '5', '6'];
    for (const name of names) sim.workspace.updateTask(taskGid, { name }, null);
    await waitFor('six events', () => events('/h').length === 6, { timeoutMs: 5000 });
    expect(receiver.maxConcurrent).toBe(1);
    const created = events('/h').map((e) => e.created_at);
    expect([...created].sort()).toEqual(created);
  });

  it("gives a task webhook only that task's events", async () => {
    await setup();
    await createWebhook(taskGid, '/task');
    const other = sim.workspace.projectTaskHistory(projectGid)[1].gid;
    sim.workspace.updateTask(other, { name: 'not watched' }, null);
    sim.workspace.updateTask(taskGid, { name: 'watched' }, null);
    await waitFor('the watched event', () => events('/task').length > 0);
    expect(events('/task').map((e) => e.resource.gid)).toEqual([taskGid]);
  });

  it("delivers only events that pass one of the webhook's filters", async () => {
    await setup();
    await createWebhook(projectGid, '/f', [{ resource_type: 'task', action: 'changed', fields: ['completed'] }]);
    sim.workspace.updateTask(taskGid, { name: 'filtered out' }, null);
    sim.workspace.updateTask(taskGid, { completed: true }, null);
    await waitFor('the completion', () => events('/f').length > 0);
    expect(events('/f').map((e) => e.change?.field)).toEqual(['completed']);
  });

  it('sends a workspace webhook project events but never task events', async () => {
    await setup();
    await createWebhook(sim.workspace.workspace.gid, '/w', [{ resource_type: 'project' }, { resource_type: 'task' }]);
    sim.workspace.updateTask(taskGid, { name: 'task change' }, null);
    sim.workspace.updateProject(projectGid, { name: 'project change' }, null);
    await waitFor('the project event', () => events('/w').length > 0);
    expect(events('/w').map((e) => e.resource.resource_type)).toEqual(['project']);
  });

  it('retries a failing receiver with backoff, showing the retry state on the webhook, until it recovers', async () => {
    await setup({ SIM_RETRY_BASE_MS: '30', SIM_RETRY_MAX_MS: '60' });
    receiver.reply = (r) => (r.headers['x-hook-secret'] ? echoHandshake(r) : { status: 500, body: 'receiver down' });
    const hook = await createWebhook(projectGid, '/h');
    await waitFor('three failed attempts', () => receiver.deliveries('/h').length >= 3);
    const failing = (await sim.get(`/api/1.0/webhooks/${hook.gid}`)).body.data;
    expect(failing.delivery_retry_count).toBeGreaterThanOrEqual(2);
    expect(failing.last_failure_at).toEqual(expect.any(String));
    expect(failing.last_failure_content).toBe('receiver down');
    expect(failing.next_attempt_after).toEqual(expect.any(String));
    expect(Date.parse(failing.failure_deletion_timestamp)).toBeGreaterThan(Date.parse(failing.last_failure_at));
    expect(failing.last_success_at).toBeNull();

    receiver.reply = echoHandshake;
    const recovered = await waitFor('a success', async () => {
      const webhook = (await sim.get(`/api/1.0/webhooks/${hook.gid}`)).body.data as AsanaWebhook;
      return webhook.last_success_at !== null && webhook;
    });
    expect(recovered).toMatchObject({
      delivery_retry_count: 0,
      next_attempt_after: null,
      failure_deletion_timestamp: null,
    });
    expect(new Set(receiver.deliveries('/h').map((r) => r.rawBody.toString()))).toEqual(new Set(['{"events":[]}']));
  });

  it('counts a receiver that answers too late as a failure', async () => {
    await setup({ SIM_RECEIVER_TIMEOUT_MS: '200', SIM_RETRY_BASE_MS: '1000' });
    receiver.reply = (r) => (r.headers['x-hook-secret'] ? echoHandshake(r) : { status: 200, hang: true });
    const hook = await createWebhook(projectGid, '/h');
    const failed = await waitFor('a timed-out attempt', async () => {
      const webhook = (await sim.get(`/api/1.0/webhooks/${hook.gid}`)).body.data as AsanaWebhook;
      return webhook.last_failure_at !== null && webhook;
    });
    expect(failed.last_failure_content).toMatch(/no answer within 200 ms/);
  });

  it('deletes a webhook whose deliveries keep failing for the whole retry window', async () => {
    await setup({ SIM_RETRY_BASE_MS: '20', SIM_RETRY_MAX_MS: '40', SIM_RETRY_WINDOW_MS: '200' });
    receiver.reply = (r) => (r.headers['x-hook-secret'] ? echoHandshake(r) : { status: 503 });
    const hook = await createWebhook(projectGid, '/h');
    await waitFor(
      'the webhook to be deleted',
      async () => (await sim.get(`/api/1.0/webhooks/${hook.gid}`)).status === 404,
    );
    const { counts } = (await sim.get('/_sim/deliveries')).body.data;
    expect(counts).toMatchObject({ webhooks_expired: 1, delivered: 0 });
    expect(counts.failed).toBeGreaterThan(1);
  });
});
