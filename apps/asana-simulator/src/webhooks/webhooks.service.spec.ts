import { TestReceiver, type ReceivedRequest } from '../../test/receiver';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';
import { waitFor } from '@asana-stream/testing';

describe('WebhooksService (through POST/GET/PUT/DELETE /webhooks, with a real receiver)', () => {
  let sim: RunningSimulator;
  let receiver: TestReceiver;
  let projectGid: string;

  beforeEach(async () => {
    sim = await startSimulator();
    receiver = await new TestReceiver().start();
    projectGid = sim.workspace.seededProjects()[0].gid;
  });

  afterEach(async () => {
    await sim.close();
    await receiver.stop();
  });

  const handshakes = () => receiver.requests.filter((r) => r.headers['x-hook-secret'] !== undefined);

  it('sends the handshake inside the create call and answers 201 with the same secret once it is echoed', async () => {
    const res = await sim.post('/api/1.0/webhooks', {
      data: { resource: projectGid, target: `${receiver.url}/hooks/1?tenant=a` },
    });
    expect(res.status).toBe(201);
    const [handshake] = handshakes();
    expect(handshake.path).toBe('/hooks/1?tenant=a');
    expect(handshake.rawBody).toHaveLength(0);
    expect(handshake.headers['x-hook-secret']).toMatch(/^[0-9a-f]{64}$/);
    expect(res.body['X-Hook-Secret']).toBe(handshake.headers['x-hook-secret']);
    expect(res.body.data).toEqual({
      gid: expect.stringMatching(/^\d{16}$/),
      resource_type: 'webhook',
      active: true,
      resource: { gid: projectGid, resource_type: 'project', name: 'Platform' },
      target: `${receiver.url}/hooks/1?tenant=a`,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      last_success_at: null,
      last_failure_at: null,
      last_failure_content: '',
      delivery_retry_count: 0,
      next_attempt_after: null,
      failure_deletion_timestamp: null,
      filters: [],
    });
  });

  it('gives every webhook its own secret', async () => {
    const a = await sim.post('/api/1.0/webhooks', { data: { resource: projectGid, target: `${receiver.url}/a` } });
    const b = await sim.post('/api/1.0/webhooks', { data: { resource: projectGid, target: `${receiver.url}/b` } });
    expect(a.body['X-Hook-Secret']).not.toBe(b.body['X-Hook-Secret']);
  });

  it.each([
    ['answers 200 without echoing the secret', () => ({ status: 200 })],
    ['echoes a different secret', () => ({ status: 200, headers: { 'X-Hook-Secret': 'not-the-secret' } })],
    [
      'echoes the secret with a 500',
      (r: ReceivedRequest) => ({ status: 500, headers: { 'X-Hook-Secret': String(r.headers['x-hook-secret']) } }),
    ],
    ['never answers', () => ({ status: 200, hang: true })],
  ])('fails the create with 400 and stores nothing when the receiver %s', async (_case, reply) => {
    receiver.reply = reply;
    const res = await sim.post('/api/1.0/webhooks', { data: { resource: projectGid, target: `${receiver.url}/h` } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toMatch(/handshake/);
    const list = await sim.get(`/api/1.0/webhooks?workspace=${sim.workspace.workspace.gid}`);
    expect(list.body.data).toEqual([]);
  });

  it('fails the create when nothing listens at the target', async () => {
    const target = `${receiver.url}/h`;
    await receiver.stop();
    const res = await sim.post('/api/1.0/webhooks', { data: { resource: projectGid, target } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].message).toMatch(/ECONNREFUSED/);
  });

  it('refuses a localhost target with 403 without contacting it, as Asana does', async () => {
    const port = new URL(receiver.url).port;
    const res = await sim.post('/api/1.0/webhooks', {
      data: { resource: projectGid, target: `http://localhost:${port}/h` },
    });
    expect(res.status).toBe(403);
    expect(receiver.requests).toEqual([]);
  });

  it('refuses a second webhook for the same resource and target with 403 "Duplicated webhook"', async () => {
    const data = { resource: projectGid, target: `${receiver.url}/h` };
    expect((await sim.post('/api/1.0/webhooks', { data })).status).toBe(201);
    const second = await sim.post('/api/1.0/webhooks', { data });
    expect(second.status).toBe(403);
    expect(second.body.errors[0].message).toMatch(/^Duplicated webhook/);
    expect(handshakes()).toHaveLength(1);
  });

  it('refuses a concurrent twin while the first handshake is still waiting', async () => {
    receiver.reply = (r) => ({
      status: 200,
      headers: { 'X-Hook-Secret': String(r.headers['x-hook-secret']) },
      delayMs: 200,
    });
    const data = { resource: projectGid, target: `${receiver.url}/h` };
    const [a, b] = await Promise.all([
      sim.post('/api/1.0/webhooks', { data }),
      sim.post('/api/1.0/webhooks', { data }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 403]);
  });

  it('rejects an unknown resource, a missing target and a workspace webhook without filters with 400', async () => {
    const target = `${receiver.url}/h`;
    expect((await sim.post('/api/1.0/webhooks', { data: { resource: '1', target } })).status).toBe(400);
    expect((await sim.post('/api/1.0/webhooks', { data: { resource: projectGid } })).status).toBe(400);
    const workspaceGid = sim.workspace.workspace.gid;
    expect((await sim.post('/api/1.0/webhooks', { data: { resource: workspaceGid, target } })).status).toBe(400);
    expect(receiver.requests).toEqual([]);
  });

  it('lists compact webhooks of a workspace, optionally of one resource, and requires the workspace', async () => {
    const task = sim.workspace.projectTaskHistory(projectGid)[0];
    await sim.post('/api/1.0/webhooks', { data: { resource: projectGid, target: `${receiver.url}/p` } });
    await sim.post('/api/1.0/webhooks', { data: { resource: task.gid, target: `${receiver.url}/t` } });
    const workspaceGid = sim.workspace.workspace.gid;
    const all = await sim.get(`/api/1.0/webhooks?workspace=${workspaceGid}`);
    expect((all.body.data as { target: string }[]).map((w) => w.target)).toEqual([
      `${receiver.url}/p`,
      `${receiver.url}/t`,
    ]);
    expect(Object.keys(all.body.data[0]).sort()).toEqual(['active', 'gid', 'resource', 'resource_type', 'target']);
    const one = await sim.get(`/api/1.0/webhooks?workspace=${workspaceGid}&resource=${task.gid}`);
    expect(one.body.data).toHaveLength(1);
    const paged = await sim.get(`/api/1.0/webhooks?workspace=${workspaceGid}&limit=1`);
    expect(paged.body.next_page.offset).toEqual(expect.any(String));
    expect((await sim.get('/api/1.0/webhooks')).status).toBe(400);
  });

  it('replaces the whole filter list on PUT and changes nothing else', async () => {
    const created = await sim.post('/api/1.0/webhooks', {
      data: {
        resource: projectGid,
        target: `${receiver.url}/h`,
        filters: [{ action: 'added' }, { action: 'deleted' }],
      },
    });
    const gid = created.body.data.gid as string;
    const updated = await sim.put(`/api/1.0/webhooks/${gid}`, {
      data: { filters: [{ resource_type: 'task', action: 'changed', fields: ['name'] }] },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.data.filters).toEqual([{ resource_type: 'task', action: 'changed', fields: ['name'] }]);
    expect(updated.body.data.target).toBe(`${receiver.url}/h`);
    const bad = await sim.put(`/api/1.0/webhooks/${gid}`, { data: { filters: [{ action: 'added', fields: ['x'] }] } });
    expect(bad.status).toBe(400);
  });

  it('deletes with 200 {"data":{}}, then answers 404 and stops delivering', async () => {
    const created = await sim.post('/api/1.0/webhooks', {
      data: { resource: projectGid, target: `${receiver.url}/h` },
    });
    const gid = created.body.data.gid as string;
    await waitFor('the first heartbeat', () => receiver.deliveries('/h').length === 1);
    const res = await sim.delete(`/api/1.0/webhooks/${gid}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: {} });
    expect((await sim.get(`/api/1.0/webhooks/${gid}`)).status).toBe(404);
    expect((await sim.delete(`/api/1.0/webhooks/${gid}`)).status).toBe(404);
    const task = sim.workspace.projectTaskHistory(projectGid)[0];
    await sim.put(`/api/1.0/tasks/${task.gid}`, { data: { name: 'after the webhook is gone' } });
    await sim.put(`/api/1.0/tasks/${task.gid}`, { data: { name: 'still gone' } });
    // A later webhook on another target proves deliveries still flow, and that none went to /h.
    await sim.post('/api/1.0/webhooks', { data: { resource: task.gid, target: `${receiver.url}/probe` } });
    await sim.put(`/api/1.0/tasks/${task.gid}`, { data: { name: 'probe' } });
    await waitFor('a delivery to the probe', () =>
      receiver.deliveries('/probe').some((r) => r.rawBody.toString().includes('"changed"')),
    );
    expect(receiver.deliveries('/h')).toHaveLength(1);
  });
});
