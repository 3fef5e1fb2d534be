import type { AsanaDelivery, AsanaEvent } from '@asana-stream/asana';
import { waitFor } from '@asana-stream/testing';
import { TestReceiver } from '../../test/receiver';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

describe('StoriesController (HTTP)', () => {
  let sim: RunningSimulator;
  let projectGid: string;
  let taskGid: string;

  beforeAll(async () => {
    sim = await startSimulator();
  });

  afterAll(() => sim.close());

  beforeEach(async () => {
    projectGid = sim.workspace.seededProjects()[0].gid;
    taskGid = (await sim.post('/api/1.0/tasks', { data: { name: 'Storied', projects: [projectGid] } })).body.data.gid;
  });

  const comment = (text: string, gid = taskGid) => sim.post(`/api/1.0/tasks/${gid}/stories`, { data: { text } });

  it('creates a comment with 201 and returns the full story, readable at /stories/{gid}', async () => {
    const res = await comment('Ready for review');
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      resource_type: 'story',
      resource_subtype: 'comment_added',
      type: 'comment',
      text: 'Ready for review',
      created_by: { gid: sim.workspace.me().gid, resource_type: 'user', name: sim.workspace.me().name },
      target: { gid: taskGid, resource_type: 'task', name: 'Storied' },
    });
    const read = await sim.get(`/api/1.0/stories/${res.body.data.gid}`);
    expect(read.body).toEqual(res.body);
  });

  it("lists the task's stories oldest first, system stories and comments, compact", async () => {
    await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { name: 'Renamed', assignee: 'me', completed: true } });
    await comment('Done');
    const res = await sim.get(`/api/1.0/tasks/${taskGid}/stories`);
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('next_page');
    expect(
      (res.body.data as { resource_subtype: string; text: string }[]).map((s) => [s.resource_subtype, s.text]),
    ).toEqual([
      ['added_to_project', 'added to Platform'],
      ['name_changed', 'changed the name to "Renamed"'],
      ['assigned', `assigned to ${sim.workspace.me().name}`],
      ['marked_complete', 'marked this task complete'],
      ['comment_added', 'Done'],
    ]);
    expect(Object.keys(res.body.data[0]).sort()).toEqual([
      'created_at',
      'created_by',
      'gid',
      'resource_subtype',
      'resource_type',
      'text',
    ]);
  });

  it('pages through the stories with limit and offset, following next_page to the end', async () => {
    for (let i = 0; i < 4; i += 1) await comment(`c${i}`);
    const seen: string[] = [];
    let path: string | undefined = `/tasks/${taskGid}/stories?limit=2&opt_fields=text`;
    while (path) {
      const res = await sim.get(`/api/1.0${path}`);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...(res.body.data as { text: string }[]).map((s) => s.text));
      path = res.body.next_page?.path;
    }
    expect(seen).toEqual(['added to Platform', 'c0', 'c1', 'c2', 'c3']);
    expect((await sim.get(`/api/1.0/tasks/${taskGid}/stories?limit=101`)).status).toBe(400);
    expect((await sim.get(`/api/1.0/tasks/${taskGid}/stories?limit=1&offset=forged`)).status).toBe(400);
  });

  it('answers the opt_fields asked for, with gid always', async () => {
    const gid = (await comment('Hi')).body.data.gid as string;
    const res = await sim.get(`/api/1.0/stories/${gid}?opt_fields=text,html_text,created_by.name,target.name`);
    expect(res.body.data).toEqual({
      gid,
      text: 'Hi',
      html_text: '<body>Hi</body>',
      created_by: { gid: sim.workspace.me().gid, name: sim.workspace.me().name },
      target: { gid: taskGid, name: 'Storied' },
    });
  });

  it('deletes a comment with {"data":{}}, then answers 404 for it and leaves it out of the list', async () => {
    const gid = (await comment('Oops')).body.data.gid as string;
    const res = await sim.delete(`/api/1.0/stories/${gid}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ data: {} });
    for (const res404 of [await sim.get(`/api/1.0/stories/${gid}`), await sim.delete(`/api/1.0/stories/${gid}`)]) {
      expect(res404.status).toBe(404);
      expect(res404.body.errors[0].message).toBe(`Unknown object: ${gid}`);
    }
    const list = (await sim.get(`/api/1.0/tasks/${taskGid}/stories`)).body.data as { gid: string }[];
    expect(list.map((s) => s.gid)).not.toContain(gid);
  });

  it('refuses to delete a system story with 403', async () => {
    const [system] = (await sim.get(`/api/1.0/tasks/${taskGid}/stories`)).body.data as { gid: string }[];
    const res = await sim.delete(`/api/1.0/stories/${system.gid}`);
    expect(res.status).toBe(403);
    expect(res.body.errors[0].message).toMatch(/only delete comments you have created/);
  });

  it("answers 404 for a trashed task's stories, and for unknown gids, as the task routes do", async () => {
    const gid = (await comment('Before')).body.data.gid as string;
    await sim.delete(`/api/1.0/tasks/${taskGid}`);
    for (const res of [
      await sim.get(`/api/1.0/stories/${gid}`),
      await sim.get(`/api/1.0/tasks/${taskGid}/stories`),
      await comment('After'),
      await sim.get('/api/1.0/stories/1234567890123456'),
      await comment('Nowhere', '1234567890123456'),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.errors[0].message).toMatch(/^Unknown object: \d+$/);
    }
  });

  it('rejects a comment without text with 400', async () => {
    for (const body of [{ text: 'no data wrapper' }, { data: {} }, { data: { text: 7 } }, { data: { text: '' } }]) {
      const res = await sim.post(`/api/1.0/tasks/${taskGid}/stories`, body);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].message).toMatch(/^(data|text): /);
    }
  });

  it('delivers a comment\'s story "added" event, parent the task, to the project\'s webhook', async () => {
    const receiver = await new TestReceiver().start();
    try {
      const hook = await sim.post('/api/1.0/webhooks', {
        data: { resource: projectGid, target: `${receiver.url}/h`, filters: [{ resource_type: 'story' }] },
      });
      expect(hook.status).toBe(201);
      const story = (await comment('Heads up')).body.data;
      const events = () =>
        receiver.deliveries('/h').flatMap((r) => (JSON.parse(r.rawBody.toString()) as AsanaDelivery).events);
      const [event] = await waitFor('the story event', () => events().length > 0 && events());
      expect(event).toEqual<AsanaEvent>({
        user: { gid: sim.workspace.me().gid, resource_type: 'user' },
        created_at: story.created_at,
        action: 'added',
        resource: { gid: story.gid, resource_type: 'story', resource_subtype: 'comment_added' },
        parent: { gid: taskGid, resource_type: 'task', resource_subtype: 'default_task' },
      });
      await sim.delete(`/api/1.0/webhooks/${hook.body.data.gid}`);
    } finally {
      await receiver.stop();
    }
  });
});
