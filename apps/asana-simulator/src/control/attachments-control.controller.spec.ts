import request from 'supertest';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('AttachmentsControlController (/_sim/attachments)', () => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.close());

  it("attaches a link to a task without auth, recording the task's attachment_added story", async () => {
    const [task] = sim.workspace.allTasks();
    const res = await request(sim.baseUrl)
      .post('/_sim/attachments')
      .send({ parent: task.gid, name: 'Spec', url: 'https://example.com/spec' });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ resource_type: 'attachment', name: 'Spec', parent: { gid: task.gid } });
    const stories = (await sim.get(`/api/1.0/tasks/${task.gid}/stories`)).body.data as { resource_subtype: string }[];
    expect(stories.at(-1)).toMatchObject({ resource_subtype: 'attachment_added', text: 'attached Spec' });
  });

  it('answers 400 for a missing or unknown parent and a missing URL', async () => {
    const [task] = sim.workspace.allTasks();
    for (const body of [
      { name: 'x', url: 'https://example.com' },
      { parent: '1', name: 'x', url: 'https://example.com' },
      { parent: task.gid, name: 'x' },
      { parent: 7, name: 'x', url: 'https://example.com' },
    ]) {
      const res = await request(sim.baseUrl).post('/_sim/attachments').send(body);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].message).toMatch(/^(parent|url): /);
    }
  });
});
