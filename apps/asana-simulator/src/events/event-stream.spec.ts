import { GidSequence } from '../gid-sequence';
import { SimulatorError } from '../simulator.errors';
import { WorkspaceService } from '../workspace/workspace.service';
import { ASANA_EVENT_STREAM, EventStream, SYNC_TOKEN_EXPIRED_MESSAGE, type EventStreamOptions } from './event-stream';

const T0 = Date.parse('2026-01-05T10:00:00.000Z');
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

function setup(options: EventStreamOptions = ASANA_EVENT_STREAM) {
  const clock = { time: T0, now: () => clock.time };
  const workspace = new WorkspaceService(clock, new GidSequence(), { users: 3, tasksPerProject: 2 });
  const stream = new EventStream(workspace, clock, options);
  const [project, otherProject] = workspace.seededProjects();
  const [task, sibling] = workspace.projectTaskHistory(project.gid);
  const me = workspace.me().gid;
  return { clock, workspace, stream, project, otherProject, task, sibling, me };
}

/** The error a call throws (fails the test if it does not throw). */
function thrown(run: () => unknown): SimulatorError {
  try {
    run();
  } catch (error) {
    if (error instanceof SimulatorError) return error;
    throw error;
  }
  throw new Error('expected the call to throw');
}

/** The token of the 412 a call without a (valid) token answers. */
function freshToken(stream: EventStream, resource: string, sync?: string): string {
  const error = thrown(() => stream.read(resource, sync));
  expect(error.code).toBe('SYNC_TOKEN_EXPIRED');
  expect(error.message).toBe(SYNC_TOKEN_EXPIRED_MESSAGE);
  expect(error.body.sync).toEqual(expect.any(String));
  return error.body.sync;
}

describe('EventStream (GET /events)', () => {
  it('answers a first call without a token with 412 and a token marking now: only later events follow', () => {
    const { stream, workspace, task, me } = setup();
    workspace.updateTask(task.gid, { name: 'before the token' }, me);
    const sync = freshToken(stream, task.gid);

    const empty = stream.read(task.gid, sync);
    expect(empty).toEqual({ data: [], sync: expect.any(String), has_more: false });

    workspace.updateTask(task.gid, { name: 'after the token' }, me);
    const page = stream.read(task.gid, empty.sync);
    expect(page.data).toEqual([
      expect.objectContaining({ action: 'changed', resource: expect.objectContaining({ gid: task.gid }) }),
    ]);
    expect(page.has_more).toBe(false);
    expect(stream.read(task.gid, page.sync).data).toEqual([]);
  });

  it('returns the same events again for the same token (re-requesting the current token is safe)', () => {
    const { stream, workspace, task, me } = setup();
    const sync = freshToken(stream, task.gid);
    workspace.updateTask(task.gid, { completed: true }, me);
    const first = stream.read(task.gid, sync);
    expect(first.data.map((e) => e.change?.field)).toEqual(['completed', 'completed_at']);
    expect(stream.read(task.gid, sync)).toEqual(first);
  });

  it("gives a project its own events and its tasks', in the order they happened; a task only its own", () => {
    const { stream, workspace, project, otherProject, task, sibling, me } = setup();
    const projectSync = freshToken(stream, project.gid);
    const taskSync = freshToken(stream, task.gid);

    workspace.updateTask(task.gid, { name: 'one' }, me);
    workspace.updateProject(project.gid, { name: 'renamed' }, me);
    workspace.updateTask(sibling.gid, { assignee: me }, me);
    const created = workspace.createTask({ name: 'new', projects: [project.gid] }, me);
    workspace.updateTask(workspace.projectTaskHistory(otherProject.gid)[0].gid, { name: 'elsewhere' }, me);
    workspace.deleteTask(task.gid, me);

    const projectEvents = stream.read(project.gid, projectSync).data;
    expect(projectEvents.map((e) => [e.action, e.resource.gid])).toEqual([
      ['changed', task.gid],
      ['changed', project.gid],
      ['changed', sibling.gid],
      ['added', created.gid],
      ['deleted', task.gid],
    ]);
    expect(projectEvents[3].parent).toEqual({ gid: project.gid, resource_type: 'project' });
    expect(projectEvents[2].change).toEqual({
      field: 'assignee',
      action: 'changed',
      new_value: { gid: me, resource_type: 'user' },
    });

    // The task is in the trash now: like any other read of it, 404.
    expect(thrown(() => stream.read(task.gid, taskSync)).code).toBe('NOT_FOUND');
    workspace.undeleteTask(task.gid, me);
    expect(stream.read(task.gid, taskSync).data.map((e) => e.action)).toEqual(['changed', 'deleted', 'undeleted']);
  });

  it('returns at most 100 events per call with has_more, continuing from the returned token', () => {
    const { stream, workspace, project, task, me } = setup();
    let sync = freshToken(stream, project.gid);
    for (let i = 0; i < 250; i += 1) workspace.updateTask(task.gid, { name: `name ${i}` }, me);

    const pages: { size: number; hasMore: boolean }[] = [];
    const names: string[] = [];
    for (;;) {
      const page = stream.read(project.gid, sync);
      pages.push({ size: page.data.length, hasMore: page.has_more });
      names.push(...page.data.map((e) => e.created_at));
      sync = page.sync;
      if (!page.has_more) break;
    }
    expect(pages).toEqual([
      { size: 100, hasMore: true },
      { size: 100, hasMore: true },
      { size: 50, hasMore: false },
    ]);
    expect(names).toHaveLength(250);
    // created_at strictly increases: the task's modified_at moves 1 ms per change on a still clock.
    expect([...names].sort()).toEqual(names);
    expect(new Set(names).size).toBe(250);
    expect(stream.read(project.gid, sync)).toEqual({ data: [], sync: expect.any(String), has_more: false });
  });

  it('counts has_more only on the events of the resource asked about', () => {
    const { stream, workspace, task, sibling, me } = setup();
    const sync = freshToken(stream, task.gid);
    for (let i = 0; i < 100; i += 1) workspace.updateTask(task.gid, { name: `name ${i}` }, me);
    for (let i = 0; i < 50; i += 1) workspace.updateTask(sibling.gid, { name: `other ${i}` }, me);
    const page = stream.read(task.gid, sync);
    expect(page.data).toHaveLength(100);
    expect(page.has_more).toBe(false);
  });

  it('expires a token 24 hours after its position, with a new token in the 412', () => {
    const { clock, stream, workspace, task, me } = setup();
    const sync = freshToken(stream, task.gid);
    clock.time += DAY - 1;
    workspace.updateTask(task.gid, { name: 'just in time' }, me);
    expect(stream.read(task.gid, sync).data).toHaveLength(1);

    clock.time += 1;
    const renewed = freshToken(stream, task.gid, sync);
    expect(renewed).not.toBe(sync);
    expect(stream.read(task.gid, renewed).data).toEqual([]);
  });

  it('keeps a polling client going for days while each token is younger than 24 hours', () => {
    const { clock, stream, workspace, task, me } = setup();
    let sync = freshToken(stream, task.gid);
    for (let hour = 0; hour < 72; hour += 1) {
      workspace.updateTask(task.gid, { name: `hour ${hour}` }, me);
      clock.time += HOUR;
      const page = stream.read(task.gid, sync);
      expect(page.data.map((e) => e.change?.field)).toEqual(['name']);
      sync = page.sync;
    }
  });

  it('drops events older than 24 hours, and a has_more token positioned before them expires', () => {
    const { clock, stream, workspace, task, me } = setup();
    const sync = freshToken(stream, task.gid);
    for (let i = 0; i < 150; i += 1) workspace.updateTask(task.gid, { name: `old ${i}` }, me);
    expect(stream.retained().events).toBe(150);

    clock.time += 12 * HOUR;
    const first = stream.read(task.gid, sync);
    expect(first.has_more).toBe(true);
    workspace.updateTask(task.gid, { name: 'new' }, me);

    // 24 hours after the old events: they are gone, the newer one stays.
    clock.time += 12 * HOUR;
    freshToken(stream, task.gid, first.sync);
    expect(stream.retained().events).toBe(1);
  });

  it('keeps at most maxEvents, and a token before the dropped ones expires early (Asana: under load)', () => {
    const { stream, workspace, task, me } = setup({ ...ASANA_EVENT_STREAM, maxEvents: 10 });
    const sync = freshToken(stream, task.gid);
    for (let i = 0; i < 5; i += 1) workspace.updateTask(task.gid, { name: `a ${i}` }, me);
    const midway = stream.read(task.gid, sync).sync;
    expect(stream.read(task.gid, sync).data).toHaveLength(5);
    for (let i = 0; i < 10; i += 1) workspace.updateTask(task.gid, { name: `b ${i}` }, me);

    expect(stream.retained().events).toBe(10);
    freshToken(stream, task.gid, sync);
    // Caught up after the first five: nothing it still needs was dropped.
    expect(stream.read(task.gid, midway).data).toHaveLength(10);
  });

  it("answers 412 to a token that is not one of ours, another resource's, or from before expireAllTokens", () => {
    const { stream, project, task } = setup();
    for (const garbage of ['', 'de4774f6915eae04714ca93bb2f5ee81', Buffer.from('[1,2]').toString('base64url')]) {
      freshToken(stream, task.gid, garbage);
    }
    const projectSync = freshToken(stream, project.gid);
    freshToken(stream, task.gid, projectSync);

    const taskSync = freshToken(stream, task.gid);
    stream.read(task.gid, taskSync);
    stream.expireAllTokens();
    const renewed = freshToken(stream, task.gid, taskSync);
    expect(stream.read(task.gid, renewed).has_more).toBe(false);
  });

  it('answers 400 without a resource or for one the Events API does not serve, 404 for an unknown gid', () => {
    const { stream, workspace } = setup();
    const cases: [unknown, string, RegExp][] = [
      [undefined, 'INVALID_REQUEST', /^resource: Missing input$/],
      [['1', '2'], 'INVALID_REQUEST', /resource: Value is not a string/],
      [workspace.workspace.gid, 'INVALID_REQUEST', /not a workspace/],
      [workspace.team.gid, 'INVALID_REQUEST', /not a team/],
      [workspace.me().gid, 'INVALID_REQUEST', /not a user/],
      ['1234567890123456', 'NOT_FOUND', /^Unknown object: 1234567890123456$/],
    ];
    for (const [resource, code, message] of cases) {
      const error = thrown(() => stream.read(resource, undefined));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
    }
  });

  it('stops recording when the module is destroyed', () => {
    const { stream, workspace, task, me } = setup();
    stream.onModuleDestroy();
    workspace.updateTask(task.gid, { name: 'unheard' }, me);
    expect(stream.retained()).toEqual({ events: 0, oldestSeq: null });
  });
});
