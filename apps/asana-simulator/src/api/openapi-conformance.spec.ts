import request from 'supertest';
import { AsanaOpenApi, readAsanaSpec, specNode, type SpecGap } from '../../test/asana-openapi';
import { TestReceiver } from '../../test/receiver';
import { startSimulator, type RunningSimulator } from '../../test/simulator-harness';

type Node = Record<string, unknown>;

/** Where the simulator follows Asana's API rather than its spec (also listed in the README). */
const SPEC_GAPS: SpecGap[] = [
  {
    what: 'WebhookResponse timestamps are null until something happened',
    why:
      'The spec types last_success_at, last_failure_at, next_attempt_after and failure_deletion_timestamp as ' +
      'non-null date-times, but its own createWebhook example returns "last_success_at": null, and a new ' +
      'webhook has no such moments yet.',
    patch: (spec) => {
      for (const field of ['last_success_at', 'last_failure_at', 'next_attempt_after', 'failure_deletion_timestamp']) {
        specNode(spec, 'components', 'schemas', 'WebhookResponse', 'allOf', 1, 'properties', field).nullable = true;
      }
    },
  },
  {
    what: 'Workspace email_domains are bare domains',
    why: 'The spec says format: uri, but its own example is "asana.com", which is not a URI.',
    patch: (spec) => {
      const schema = ['components', 'schemas', 'WorkspaceResponse', 'allOf', 1, 'properties', 'email_domains', 'items'];
      delete specNode(spec, ...schema).format;
    },
  },
  {
    what: 'Rate-limited requests answer 429',
    why:
      'Every Asana endpoint answers 429 past a rate limit (its rate-limit docs, contract §6), but the spec ' +
      'lists 429 on no operation: it defines a TooManyRequests response and files it under 424, on two.',
    patch: (spec) => {
      for (const item of Object.values(specNode(spec, 'paths'))) {
        for (const operation of Object.values(item as Node)) {
          const responses = (operation as Node | undefined)?.responses as Node | undefined;
          if (responses) responses['429'] = { $ref: '#/components/responses/TooManyRequests' };
        }
      }
    },
  },
  {
    what: 'Event user and parent can be null',
    why:
      'EventResponse types user and parent as objects, but its own description says system events have a null user ' +
      'and that parent "will be null" except for added/removed events; webhooks deliver the same (contract §2).',
    patch: (spec) => {
      for (const field of ['user', 'parent']) {
        specNode(spec, 'components', 'schemas', 'EventResponse', 'properties', field).nullable = true;
      }
    },
  },
  {
    what: 'Story created_by is null for a change made by the system',
    why:
      'StoryCompact and StoryResponse type created_by as a user, but a change made by a rule or integration ' +
      'has no user: its event says "user": null (EventResponse), and so does the story it makes.',
    patch: (spec) => {
      specNode(spec, 'components', 'schemas', 'StoryCompact', 'properties', 'created_by').nullable = true;
      specNode(spec, 'components', 'schemas', 'StoryResponse', 'allOf', 1, 'properties', 'created_by').nullable = true;
    },
  },
];

describe("OpenAPI conformance: simulator responses against Asana's asana_oas.yaml", () => {
  const raw = readAsanaSpec();
  const spec = AsanaOpenApi.withGaps(raw, SPEC_GAPS);
  let sim: RunningSimulator;
  let receiver: TestReceiver;
  let projectGid: string;
  let taskGid: string;
  let webhookGid: string;
  let webhookBody: Node;

  beforeAll(async () => {
    sim = await startSimulator();
    receiver = await new TestReceiver().start();
    projectGid = sim.workspace.seededProjects()[0].gid;
    taskGid = sim.workspace.projectTaskHistory(projectGid)[0].gid;
    const created = await sim.post('/api/1.0/webhooks', {
      data: {
        resource: projectGid,
        target: `${receiver.url}/hooks`,
        filters: [{ resource_type: 'task', action: 'changed', fields: ['name'] }],
      },
    });
    expect(created.status).toBe(201);
    webhookGid = created.body.data.gid;
    webhookBody = created.body;
  });

  afterAll(async () => {
    await sim.close();
    await receiver.stop();
  });

  /** The response must have the status the test expects and a body the spec accepts for it. */
  function expectConforms(
    method: string,
    template: string,
    res: { status: number; body: unknown },
    status: number,
  ): void {
    expect(res.status).toBe(status);
    expect(spec.problems(method, template, res.status, res.body)).toEqual([]);
  }

  it('GET /tasks/{gid} returns a TaskResponse, by default and with opt_fields', async () => {
    await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { completed: true } });
    expectConforms('get', '/tasks/{task_gid}', await sim.get(`/api/1.0/tasks/${taskGid}`), 200);
    const selected = await sim.get(
      `/api/1.0/tasks/${taskGid}?opt_fields=name,assignee,assignee.name,projects,memberships.project.name,html_notes,created_by`,
    );
    expectConforms('get', '/tasks/{task_gid}', selected, 200);
  });

  it('POST /tasks answers 201 with a TaskResponse, PUT 200 with one', async () => {
    const created = await sim.post('/api/1.0/tasks', {
      data: { name: 'Conforming', projects: [projectGid], assignee: 'me' },
    });
    expectConforms('post', '/tasks', created, 201);
    const updated = await sim.put(`/api/1.0/tasks/${created.body.data.gid}`, {
      data: { assignee: null, notes: '<b>' },
    });
    expectConforms('put', '/tasks/{task_gid}', updated, 200);
  });

  it('DELETE /tasks/{gid} answers {"data":{}} and the deleted task 404 with an ErrorResponse', async () => {
    const created = await sim.post('/api/1.0/tasks', { data: { name: 'To delete', projects: [projectGid] } });
    const gid = created.body.data.gid as string;
    expectConforms('delete', '/tasks/{task_gid}', await sim.delete(`/api/1.0/tasks/${gid}`), 200);
    expectConforms('get', '/tasks/{task_gid}', await sim.get(`/api/1.0/tasks/${gid}`), 404);
  });

  it('GET /projects/{gid} and POST /projects return ProjectResponses', async () => {
    expectConforms('get', '/projects/{project_gid}', await sim.get(`/api/1.0/projects/${projectGid}`), 200);
    const created = await sim.post('/api/1.0/projects', { data: { name: 'Conforming', team: sim.workspace.team.gid } });
    expectConforms('post', '/projects', created, 201);
    expectConforms(
      'delete',
      '/projects/{project_gid}',
      await sim.delete(`/api/1.0/projects/${created.body.data.gid}`),
      200,
    );
  });

  it('GET /projects/{gid}/tasks returns compact tasks with next_page, an object and then null', async () => {
    const first = await sim.get(`/api/1.0/projects/${projectGid}/tasks?limit=2`);
    expectConforms('get', '/projects/{project_gid}/tasks', first, 200);
    expect(first.body.next_page).not.toBeNull();
    const last = await sim.get(`/api/1.0/projects/${projectGid}/tasks?limit=100`);
    expectConforms('get', '/projects/{project_gid}/tasks', last, 200);
    expect(last.body.next_page).toBeNull();
  });

  it('GET /tasks?project=&modified_since= returns compact tasks with next_page, and a 400 without a filter', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { notes: 'modified' } });
    const first = await sim.get(
      `/api/1.0/tasks?project=${projectGid}&modified_since=${since}&opt_fields=modified_at,resource_subtype&limit=1`,
    );
    expectConforms('get', '/tasks', first, 200);
    expect(first.body.data).toEqual([expect.objectContaining({ gid: taskGid, modified_at: expect.any(String) })]);
    const all = await sim.get(`/api/1.0/tasks?project=${projectGid}&modified_since=${since}&limit=100`);
    expectConforms('get', '/tasks', all, 200);
    expect(all.body.next_page).toBeNull();
    expectConforms('get', '/tasks', await sim.get('/api/1.0/tasks?modified_since=2026-01-01T00:00:00Z'), 400);
  });

  it('GET /tasks/{gid}/stories returns compact stories, system ones and comments, with next_page', async () => {
    await sim.put(`/api/1.0/tasks/${taskGid}`, { data: { name: 'Storied', assignee: 'me' } });
    await sim.post(`/api/1.0/tasks/${taskGid}/stories`, { data: { text: 'A comment' } });
    const all = await sim.get(`/api/1.0/tasks/${taskGid}/stories`);
    expectConforms('get', '/tasks/{task_gid}/stories', all, 200);
    expect((all.body.data as Node[]).map((story) => story.resource_subtype)).toEqual(
      expect.arrayContaining(['added_to_project', 'name_changed', 'assigned', 'comment_added']),
    );
    const first = await sim.get(`/api/1.0/tasks/${taskGid}/stories?limit=1&opt_fields=text,created_by.name,type`);
    expectConforms('get', '/tasks/{task_gid}/stories', first, 200);
    expect(first.body.next_page).not.toBeNull();
  });

  it('POST /tasks/{gid}/subtasks answers 201 with a TaskResponse naming its parent; GET /tasks/{gid}/subtasks pages compact subtasks', async () => {
    const parent = (await sim.post('/api/1.0/tasks', { data: { name: 'Parent', projects: [projectGid] } })).body.data
      .gid as string;
    const created = await sim.post(`/api/1.0/tasks/${parent}/subtasks`, { data: { name: 'Sub 1' } });
    expectConforms('post', '/tasks/{task_gid}/subtasks', created, 201);
    expect(created.body.data.parent).toMatchObject({ gid: parent, resource_type: 'task' });
    await sim.post(`/api/1.0/tasks/${parent}/subtasks`, { data: { name: 'Sub 2' } });
    const first = await sim.get(`/api/1.0/tasks/${parent}/subtasks?limit=1&opt_fields=modified_at,resource_subtype`);
    expectConforms('get', '/tasks/{task_gid}/subtasks', first, 200);
    expect(first.body.data).toEqual([
      { gid: created.body.data.gid, modified_at: expect.any(String), resource_subtype: 'default_task' },
    ]);
    const offset = first.body.next_page.offset as string;
    const second = await sim.get(`/api/1.0/tasks/${parent}/subtasks?limit=1&offset=${offset}&opt_fields=name`);
    expectConforms('get', '/tasks/{task_gid}/subtasks', second, 200);
    expect(second.body.data).toEqual([{ gid: expect.any(String), name: 'Sub 2' }]);
    expect(second.body.next_page).toBeNull();
    const parentNow = await sim.get(`/api/1.0/tasks/${parent}?opt_fields=num_subtasks`);
    expect(parentNow.body.data.num_subtasks).toBe(2);
    await sim.delete(`/api/1.0/tasks/${parent}`);
    expectConforms('get', '/tasks/{task_gid}/subtasks', await sim.get(`/api/1.0/tasks/${parent}/subtasks`), 404);
  });

  it('GET /projects?workspace= returns compact projects with modified_at when asked, with next_page', async () => {
    const workspace = sim.workspace.workspace.gid;
    const first = await sim.get(`/api/1.0/projects?workspace=${workspace}&limit=1&opt_fields=modified_at`);
    expectConforms('get', '/projects', first, 200);
    expect(first.body.data).toEqual([{ gid: expect.any(String), modified_at: expect.any(String) }]);
    expect(first.body.next_page).not.toBeNull();
  });

  it('POST /tasks/{gid}/stories answers 201 with a StoryResponse; GET and DELETE /stories/{gid} conform', async () => {
    const created = await sim.post(`/api/1.0/tasks/${taskGid}/stories`, { data: { text: 'Looks <good> & done' } });
    expectConforms('post', '/tasks/{task_gid}/stories', created, 201);
    const gid = created.body.data.gid as string;
    expectConforms('get', '/stories/{story_gid}', await sim.get(`/api/1.0/stories/${gid}`), 200);
    const withOptIn = await sim.get(`/api/1.0/stories/${gid}?opt_fields=html_text,target.name,created_by.name`);
    expectConforms('get', '/stories/{story_gid}', withOptIn, 200);
    for (const story of (await sim.get(`/api/1.0/tasks/${taskGid}/stories`)).body.data as Node[]) {
      expectConforms('get', '/stories/{story_gid}', await sim.get(`/api/1.0/stories/${story.gid as string}`), 200);
    }
    expectConforms('delete', '/stories/{story_gid}', await sim.delete(`/api/1.0/stories/${gid}`), 200);
    expectConforms('get', '/stories/{story_gid}', await sim.get(`/api/1.0/stories/${gid}`), 404);
    const system = (await sim.get(`/api/1.0/tasks/${taskGid}/stories`)).body.data[0].gid as string;
    expectConforms('delete', '/stories/{story_gid}', await sim.delete(`/api/1.0/stories/${system}`), 403);
    expectConforms(
      'post',
      '/tasks/{task_gid}/stories',
      await sim.post(`/api/1.0/tasks/${taskGid}/stories`, { data: {} }),
      400,
    );
    expectConforms(
      'post',
      '/tasks/{task_gid}/stories',
      await sim.post('/api/1.0/tasks/1111111111111111/stories', { data: { text: 'x' } }),
      404,
    );
    expectConforms('get', '/tasks/{task_gid}/stories', await sim.get('/api/1.0/tasks/1111111111111111/stories'), 404);
  });

  it('GET and POST /projects/{gid}/sections, GET and DELETE /sections/{gid} return what the spec describes', async () => {
    const created = await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: { name: 'Doing' } });
    expectConforms('post', '/projects/{project_gid}/sections', created, 201);
    const gid = created.body.data.gid as string;
    expectConforms('get', '/sections/{section_gid}', await sim.get(`/api/1.0/sections/${gid}`), 200);
    expectConforms(
      'get',
      '/projects/{project_gid}/sections',
      await sim.get(`/api/1.0/projects/${projectGid}/sections`),
      200,
    );
    const paged = await sim.get(`/api/1.0/projects/${projectGid}/sections?limit=1`);
    expectConforms('get', '/projects/{project_gid}/sections', paged, 200);
    expect(paged.body.next_page).not.toBeNull();
    expectConforms('delete', '/sections/{section_gid}', await sim.delete(`/api/1.0/sections/${gid}`), 200);
    expectConforms('get', '/sections/{section_gid}', await sim.get(`/api/1.0/sections/${gid}`), 404);
    const empty = await sim.post(`/api/1.0/projects/${projectGid}/sections`, { data: { name: '' } });
    expectConforms('post', '/projects/{project_gid}/sections', empty, 400);
    const nowhere = await sim.get('/api/1.0/projects/1111111111111111/sections');
    expectConforms('get', '/projects/{project_gid}/sections', nowhere, 404);
  });

  it('POST /tags answers 201 with a TagResponse; GET and DELETE /tags/{gid} conform', async () => {
    const workspace = sim.workspace.workspace.gid;
    const created = await sim.post('/api/1.0/tags', { data: { name: 'urgent', color: 'light-red', workspace } });
    expectConforms('post', '/tags', created, 201);
    const gid = created.body.data.gid as string;
    expectConforms('get', '/tags/{tag_gid}', await sim.get(`/api/1.0/tags/${gid}`), 200);
    expectConforms('get', '/tags/{tag_gid}', await sim.get(`/api/1.0/tags/${gid}?opt_fields=name,workspace.name`), 200);
    expectConforms('delete', '/tags/{tag_gid}', await sim.delete(`/api/1.0/tags/${gid}`), 200);
    expectConforms('get', '/tags/{tag_gid}', await sim.get(`/api/1.0/tags/${gid}`), 404);
    expectConforms('post', '/tags', await sim.post('/api/1.0/tags', { data: { name: 'nowhere' } }), 400);
  });

  it('GET and DELETE /attachments/{gid} return what the spec describes', async () => {
    const created = await request(sim.baseUrl)
      .post('/_sim/attachments')
      .send({ parent: taskGid, name: 'Design.pdf', url: 'https://example.com/design.pdf' });
    expect(created.status).toBe(200);
    expect(spec.problems('post', '/attachments', 200, created.body)).toEqual([]);
    const gid = created.body.data.gid as string;
    expectConforms('get', '/attachments/{attachment_gid}', await sim.get(`/api/1.0/attachments/${gid}`), 200);
    expectConforms('delete', '/attachments/{attachment_gid}', await sim.delete(`/api/1.0/attachments/${gid}`), 200);
    expectConforms('get', '/attachments/{attachment_gid}', await sim.get(`/api/1.0/attachments/${gid}`), 404);
  });

  it('POST /webhooks answers 201 with the webhook and the X-Hook-Secret', () => {
    expect(spec.problems('post', '/webhooks', 201, webhookBody)).toEqual([]);
  });

  it('GET /webhooks, GET, PUT and DELETE /webhooks/{gid} return what the spec describes', async () => {
    const workspaceGid = sim.workspace.workspace.gid;
    expectConforms('get', '/webhooks', await sim.get(`/api/1.0/webhooks?workspace=${workspaceGid}&limit=10`), 200);
    expectConforms('get', '/webhooks/{webhook_gid}', await sim.get(`/api/1.0/webhooks/${webhookGid}`), 200);
    const updated = await sim.put(`/api/1.0/webhooks/${webhookGid}`, { data: { filters: [{ action: 'deleted' }] } });
    expectConforms('put', '/webhooks/{webhook_gid}', updated, 200);
    const other = await sim.post('/api/1.0/webhooks', { data: { resource: taskGid, target: `${receiver.url}/other` } });
    expectConforms(
      'delete',
      '/webhooks/{webhook_gid}',
      await sim.delete(`/api/1.0/webhooks/${other.body.data.gid}`),
      200,
    );
  });

  it('GET /users/me, /workspaces and /workspaces/{gid} return what the spec describes', async () => {
    expectConforms('get', '/users/{user_gid}', await sim.get('/api/1.0/users/me'), 200);
    expectConforms('get', '/workspaces', await sim.get('/api/1.0/workspaces'), 200);
    const gid = sim.workspace.workspace.gid;
    expectConforms('get', '/workspaces/{workspace_gid}', await sim.get(`/api/1.0/workspaces/${gid}`), 200);
  });

  it('answers 401, 403, 404 and 400 with ErrorResponse bodies', async () => {
    const unauthorized = await request(sim.baseUrl).get(`/api/1.0/tasks/${taskGid}`);
    expectConforms('get', '/tasks/{task_gid}', unauthorized, 401);
    const port = new URL(receiver.url).port;
    const forbidden = await sim.post('/api/1.0/webhooks', {
      data: { resource: projectGid, target: `http://localhost:${port}/hooks` },
    });
    expectConforms('post', '/webhooks', forbidden, 403);
    const duplicate = await sim.post('/api/1.0/webhooks', {
      data: { resource: projectGid, target: `${receiver.url}/hooks` },
    });
    expectConforms('post', '/webhooks', duplicate, 403);
    expectConforms('get', '/projects/{project_gid}', await sim.get('/api/1.0/projects/1111111111111111'), 404);
    expectConforms('post', '/tasks', await sim.post('/api/1.0/tasks', { data: { name: 'nowhere' } }), 400);
  });

  it('answers an injected 500 with an ErrorResponse body carrying a phrase', async () => {
    await request(sim.baseUrl).post('/_sim/api-failures').send({ count: 1, status: 500 }).expect(200);
    const failed = await sim.get(`/api/1.0/tasks/${taskGid}`);
    expectConforms('get', '/tasks/{task_gid}', failed, 500);
    expect(failed.body.errors[0].phrase).toEqual(expect.any(String));
  });

  it('answers a 400 injected for one gid with an ErrorResponse body, as Asana refuses a request', async () => {
    await request(sim.baseUrl).post('/_sim/api-failures').send({ gid: taskGid, count: 1, status: 400 }).expect(200);
    expectConforms('get', '/tasks/{task_gid}', await sim.get(`/api/1.0/tasks/${taskGid}`), 400);
  });

  it('answers 429 past the rate limit with an ErrorResponse body', async () => {
    const limited = await startSimulator({ SIM_RATE_LIMIT_REQUESTS: '1', SIM_RATE_LIMIT_WINDOW_SECONDS: '60' });
    try {
      expectConforms('get', '/tasks/{task_gid}', await limited.get(`/api/1.0/tasks/${taskGid}`), 200);
      expectConforms('get', '/tasks/{task_gid}', await limited.get(`/api/1.0/tasks/${taskGid}`), 429);
    } finally {
      await limited.close();
    }
  });

  /** A 200 of `GET /events` on the project, after some changes to it and its tasks (one by "the system"). */
  async function eventsAfterChanges(): Promise<{ status: number; body: Node }> {
    const first = await sim.get(`/api/1.0/events?resource=${projectGid}`);
    const created = await sim.post('/api/1.0/tasks', { data: { name: 'Evented', projects: [projectGid] } });
    await sim.put(`/api/1.0/tasks/${created.body.data.gid}`, { data: { assignee: 'me', completed: true } });
    sim.workspace.updateTask(created.body.data.gid, { notes: 'by the system' }, null);
    await sim.delete(`/api/1.0/tasks/${created.body.data.gid}`);
    return sim.get(`/api/1.0/events?resource=${projectGid}&sync=${first.body.sync}`);
  }

  it('GET /events answers 412 with a sync token, then 200 with EventResponses, a sync token and has_more', async () => {
    const first = await sim.get(`/api/1.0/events?resource=${taskGid}`);
    expectConforms('get', '/events', first, 412);
    expect(first.body.sync).toEqual(expect.any(String));
    const empty = await sim.get(`/api/1.0/events?resource=${taskGid}&sync=${first.body.sync}`);
    expectConforms('get', '/events', empty, 200);
    const res = await eventsAfterChanges();
    expectConforms('get', '/events', res, 200);
    const actions = (res.body.data as Node[]).map((event) => event.action);
    expect(actions).toEqual(['added', 'changed', 'changed', 'changed', 'changed', 'deleted']);
    expectConforms('get', '/events', await sim.get('/api/1.0/events'), 400);
    expectConforms('get', '/events', await sim.get('/api/1.0/events?resource=1111111111111111'), 404);
  });

  it('rejects bodies that break the spec, so the checks above can fail', async () => {
    const task = (await sim.get(`/api/1.0/tasks/${taskGid}`)).body;
    expect(spec.problems('get', '/tasks/{task_gid}', 200, { data: { ...task.data, completed: 'yes' } })).not.toEqual(
      [],
    );
    expect(spec.problems('get', '/tasks/{task_gid}', 200, { data: { ...task.data, gid: 123 } })).not.toEqual([]);
    expect(
      spec.problems('get', '/tasks/{task_gid}', 200, { data: { ...task.data, created_at: 'yesterday' } }),
    ).not.toEqual([]);
    expect(spec.problems('get', '/tasks/{task_gid}', 404, { errors: 'Not found' })).not.toEqual([]);
    expect(spec.problems('post', '/webhooks', 201, { ...webhookBody, 'X-Hook-Secret': 42 })).not.toEqual([]);
    expect(
      spec.problems('get', '/projects/{project_gid}/tasks', 200, {
        data: [],
        next_page: { offset: 1, path: '/x', uri: 'x' },
      }),
    ).not.toEqual([]);
    expect(spec.problems('get', '/events', 200, { data: [], sync: 42, has_more: false })).not.toEqual([]);
    expect(spec.problems('get', '/events', 200, { data: [{ action: 7 }], sync: 's' })).not.toEqual([]);
    expect(spec.problems('get', '/events', 412, { errors: [{ message: 1 }], sync: 's' })).not.toEqual([]);
    const story = (await sim.get(`/api/1.0/tasks/${taskGid}/stories`)).body.data[0] as Node;
    const fullStory = (await sim.get(`/api/1.0/stories/${story.gid as string}`)).body.data as Node;
    expect(spec.problems('get', '/stories/{story_gid}', 200, { data: { ...fullStory, type: 'robot' } })).not.toEqual(
      [],
    );
    expect(
      spec.problems('get', '/tasks/{task_gid}/stories', 200, { data: [{ ...story, created_by: 'Ada' }] }),
    ).not.toEqual([]);
    const section = (await sim.get(`/api/1.0/projects/${projectGid}/sections`)).body.data[0] as Node;
    const fullSection = (await sim.get(`/api/1.0/sections/${section.gid as string}`)).body.data as Node;
    expect(
      spec.problems('get', '/sections/{section_gid}', 200, { data: { ...fullSection, project: 'P' } }),
    ).not.toEqual([]);
    expect(spec.problems('get', '/projects/{project_gid}/sections', 200, { data: [{ gid: 1 }] })).not.toEqual([]);
    expect(spec.problems('get', '/tags/{tag_gid}', 200, { data: { gid: '1', color: 'purple' } })).not.toEqual([]);
    expect(
      spec.problems('get', '/attachments/{attachment_gid}', 200, { data: { gid: '1', download_url: 'not a uri' } }),
    ).not.toEqual([]);
    expect(() => spec.problems('post', '/tasks', 200, {})).toThrow(/no paths/);
  });

  /** A real response of the simulator that needs the gap patched to conform. */
  async function gapExample(gap: SpecGap): Promise<readonly [string, string, number, unknown]> {
    if (gap.what.startsWith('Webhook')) return ['post', '/webhooks', 201, webhookBody];
    if (gap.what.startsWith('Event')) return ['get', '/events', 200, (await eventsAfterChanges()).body];
    if (gap.what.startsWith('Story')) {
      sim.workspace.updateTask(taskGid, { name: `Renamed by a rule ${Date.now()}` }, null);
      const stories = sim.workspace.stories.history(taskGid);
      const bySystem = stories[stories.length - 1];
      expect(bySystem.createdByGid).toBeNull();
      return ['get', '/stories/{story_gid}', 200, (await sim.get(`/api/1.0/stories/${bySystem.gid}`)).body];
    }
    if (gap.what.startsWith('Rate-limited')) {
      const limited = await startSimulator({ SIM_RATE_LIMIT_REQUESTS: '1', SIM_RATE_LIMIT_WINDOW_SECONDS: '60' });
      try {
        await limited.get(`/api/1.0/tasks/${taskGid}`);
        const refused = await limited.get(`/api/1.0/tasks/${taskGid}`);
        expect(refused.status).toBe(429);
        return ['get', '/tasks/{task_gid}', 429, refused.body];
      } finally {
        await limited.close();
      }
    }
    const gid = sim.workspace.workspace.gid;
    return ['get', '/workspaces/{workspace_gid}', 200, (await sim.get(`/api/1.0/workspaces/${gid}`)).body];
  }

  it.each(SPEC_GAPS.map((gap) => [gap.what, gap] as const))(
    'needs its spec gap "%s": the unpatched spec rejects the simulator\'s body',
    async (_what, gap) => {
      const unpatched = AsanaOpenApi.withGaps(
        raw,
        SPEC_GAPS.filter((other) => other !== gap),
      );
      const [method, template, status, body] = await gapExample(gap);
      expect(spec.problems(method, template, status, body)).toEqual([]);
      // A response the spec does not define at all is a rejection too.
      const rejection = (() => {
        try {
          return unpatched.problems(method, template, status, body);
        } catch (error) {
          return [String(error)];
        }
      })();
      expect(rejection).not.toEqual([]);
    },
  );
});
