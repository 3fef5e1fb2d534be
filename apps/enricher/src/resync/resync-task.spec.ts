import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { ClaimedResync, VanishedResource } from './resync.repository';
import { resyncTask, type TaskResyncDeps } from './resync-task';

const T = 'task-1';
const T0 = '2026-11-22T10:00:00.000Z';
const fresh: ClaimedResync = {
  resourceGid: T,
  reason: 'asked',
  offset: null,
  pages: 0,
  checked: 0,
  resourceType: 'task',
  webhookGid: null,
};
const signal = new AbortController().signal;

function fakes({
  task = { gid: T, modified_at: T0 },
  subtasks = { data: [], nextOffset: null },
  stories = { data: [], nextOffset: null },
  versions = {},
  vanishedSubtasks = [],
  vanishedStories = [],
}: {
  task?: AsanaResource | null;
  subtasks?: AsanaPage;
  stories?: AsanaPage;
  versions?: Record<string, number>;
  vanishedSubtasks?: VanishedResource[];
  vanishedStories?: VanishedResource[];
}) {
  const requests: string[] = [];
  const published: AsanaEventEnvelope[] = [];
  const deps: TaskResyncDeps = {
    getTask: (gid) => {
      requests.push(`GET /tasks/${gid}`);
      return Promise.resolve(task);
    },
    listSubtasks: (gid, offset) => {
      requests.push(`GET /tasks/${gid}/subtasks ${offset ?? 'first'}`);
      return Promise.resolve(subtasks);
    },
    listStories: (gid, offset) => {
      requests.push(`GET /tasks/${gid}/stories ${offset ?? 'first'}`);
      return Promise.resolve(stories);
    },
    projectedVersions: (gids) =>
      Promise.resolve(new Map(gids.filter((g) => g in versions).map((g) => [g, versions[g]]))),
    repository: {
      startListing: () => Promise.resolve(),
      savePage: () => Promise.resolve(true),
      finish: () => Promise.resolve(true),
      vanishedSubtasks: () => Promise.resolve(vanishedSubtasks),
      vanishedStories: () => Promise.resolve(vanishedStories),
    },
    repair: (repairs) => {
      published.push(...repairs.map((r) => r.envelope));
      return Promise.resolve();
    },
    now: () => new Date('2026-11-22T12:00:00.000Z'),
    leaseMs: 60_000,
    fullIntervalMs: 86_400_000,
  };
  return { deps, requests, published };
}

const types = (published: AsanaEventEnvelope[]) =>
  published.map(({ event }) => `${event.resource.resource_type} ${event.resource.gid}`);

describe('resyncTask', () => {
  it('reads the task, its subtasks and its stories, and repairs each kind with its own type, never project', async () => {
    const { deps, requests, published } = fakes({
      subtasks: {
        data: [
          { gid: 'sub-stale', modified_at: T0 },
          { gid: 'sub-current', modified_at: T0 },
        ],
        nextOffset: null,
      },
      stories: { data: [{ gid: 'story-lacked' }, { gid: 'story-held' }], nextOffset: null },
      versions: { [T]: 1, 'sub-stale': 1, 'sub-current': Date.parse(T0), 'story-held': 1 },
      vanishedSubtasks: [{ gid: 'sub-gone', subtype: 'default_task', version: 1 }],
      vanishedStories: [{ gid: 'story-gone', subtype: 'comment_added', version: 1 }],
    });
    const outcome = await resyncTask(fresh, 'h', deps, signal);
    expect(requests).toEqual([`GET /tasks/${T}`, `GET /tasks/${T}/subtasks first`, `GET /tasks/${T}/stories first`]);
    expect(types(published)).toEqual([
      `task ${T}`,
      'task sub-stale',
      'story story-lacked',
      'task sub-gone',
      'story story-gone',
    ]);
    expect(outcome).toEqual({
      kind: 'done',
      pages: 2,
      checked: 4,
      repairs: { missing: 1, stale: 2, vanished: 2 },
      resourceGone: false,
    });
  });

  it('makes a task Asana no longer shows a task tombstone, taking its subtasks and stories with it', async () => {
    const { deps, requests, published } = fakes({
      task: null,
      versions: { [T]: 7 },
      vanishedSubtasks: [{ gid: 'sub', subtype: null, version: 1 }],
      vanishedStories: [{ gid: 'story', subtype: null, version: 1 }],
    });
    const outcome = await resyncTask(fresh, 'h', deps, signal);
    expect(requests).toEqual([`GET /tasks/${T}`]);
    expect(types(published)).toEqual([`task ${T}`, 'task sub', 'story story']);
    expect(outcome).toMatchObject({ kind: 'done', resourceGone: true, repairs: { vanished: 3 } });
  });
});
