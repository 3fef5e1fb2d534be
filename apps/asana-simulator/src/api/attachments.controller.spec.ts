import request from 'supertest';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('AttachmentsController (HTTP)', () => {
  let sim: RunningSimulator;
  let taskGid: string;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.close());

  beforeEach(async () => {
    const projectGid = sim.workspace.seededProjects()[0].gid;
    taskGid = (await sim.post('/api/1.0/tasks', { data: { name: 'With files', projects: [projectGid] } })).body.data
      .gid;
  });

  const attach = () =>
    request(sim.baseUrl)
      .post('/_sim/attachments')
      .send({ parent: taskGid, name: 'Design.pdf', url: 'https://example.com/design.pdf' });

  it('reads an attachment in full and with opt_fields', async () => {
    const gid = (await attach()).body.data.gid as string;
    const res = await sim.get(`/api/1.0/attachments/${gid}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      gid,
      resource_type: 'attachment',
      name: 'Design.pdf',
      resource_subtype: 'external',
      host: 'external',
      download_url: 'https://example.com/design.pdf',
      parent: { gid: taskGid, resource_type: 'task', name: 'With files' },
    });
    const some = await sim.get(`/api/1.0/attachments/${gid}?opt_fields=name,parent.name`);
    expect(some.body.data).toEqual({ gid, name: 'Design.pdf', parent: { gid: taskGid, name: 'With files' } });
  });

  it('deletes an attachment with {"data":{}}, then answers 404 for it', async () => {
    const gid = (await attach()).body.data.gid as string;
    expect((await sim.delete(`/api/1.0/attachments/${gid}`)).body).toEqual({ data: {} });
    const res = await sim.get(`/api/1.0/attachments/${gid}`);
    expect(res.status).toBe(404);
    expect(res.body.errors[0].message).toBe(`Unknown object: ${gid}`);
  });

  it("answers 404 for a trashed task's attachment and for an unknown gid", async () => {
    const gid = (await attach()).body.data.gid as string;
    await sim.delete(`/api/1.0/tasks/${taskGid}`);
    expect((await sim.get(`/api/1.0/attachments/${gid}`)).status).toBe(404);
    expect((await sim.get('/api/1.0/attachments/1234567890123456')).status).toBe(404);
  });
});
