import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { ClaimedResync } from './resync.repository';
import type { RepairCause } from './resync-plan';
import { resyncResource, type ResyncDeps } from './resync-resource';

const HOLDER = 'replica-1';
const P = 'project-1';
const T0 = '2026-11-22T10:00:00.000Z';
const fresh: ClaimedResync = {
  resourceGid: P,
  reason: 'asked',
  offset: null,
  pages: 0,
  checked: 0,
  resourceType: 'project',
  webhookGid: null,
};

interface SavedPage {
  listed: readonly string[];
  nextOffset: string | null;
  repairs: Record<RepairCause, number>;
}

/** Asana's pages, the projection and the table in memory, with a log of what the run did in order. */
function fakes({
  project = { gid: P, modified_at: T0 },
  pages = {},
  versions = {},
  vanished = [],
  leaseHeld = true,
}: {
  project?: AsanaResource | null;
  pages?: Record<string, AsanaPage>;
  versions?: Record<string, number>;
  vanished?: { gid: string; subtype: string | null; version: number }[];
  leaseHeld?: boolean;
} = {}) {
  const calls: string[] = [];
  const published: AsanaEventEnvelope[] = [];
  const saved: SavedPage[] = [];
  let finished: number | undefined;
  const deps: ResyncDeps = {
    getProject: (gid) => {
      calls.push(`project ${gid}`);
      return Promise.resolve(project);
    },
    listTasks: (_gid, offset) => {
      calls.push(`list ${offset ?? 'first'}`);
      const page = pages[offset ?? 'first'];
      if (!page) throw new Error(`no page at ${offset}`);
      return Promise.resolve(page);
    },
    projectedVersions: (gids) =>
      Promise.resolve(new Map(gids.filter((g) => g in versions).map((g) => [g, versions[g]]))),
    repository: {
      startListing: () => {
        calls.push('start');
        return Promise.resolve();
      },
      savePage: (_gid, holder, page) => {
        expect(holder).toBe(HOLDER);
        calls.push(`save ${page.nextOffset ?? 'end'}`);
        saved.push(page);
        return Promise.resolve(leaseHeld);
      },
      vanishedTasks: () => Promise.resolve(vanished),
      finish: (_gid, _holder, count) => {
        calls.push('finish');
        finished = count;
        return Promise.resolve(leaseHeld);
      },
    },
    repair: (repairs) => {
      calls.push(`publish ${repairs.map((r) => r.envelope.event.resource.gid).join(',')}`);
      published.push(...repairs.map((r) => r.envelope));
      return Promise.resolve();
    },
    now: () => new Date('2026-11-22T12:00:00.000Z'),
    leaseMs: 60_000,
    fullIntervalMs: 86_400_000,
  };
  return { deps, calls, published, saved, finished: () => finished };
}

const task = (gid: string, modifiedAt = T0): AsanaResource => ({ gid, modified_at: modifiedAt });
const signal = new AbortController().signal;

describe('resyncResource', () => {
  it('checks the project, lists its tasks page by page publishing corrections before saving, then the vanished', async () => {
    const { deps, calls, saved, finished } = fakes({
      pages: {
        first: { data: [task('a'), task('b')], nextOffset: 'o2' },
        o2: { data: [task('c')], nextOffset: null },
      },
      versions: { [P]: Date.parse(T0), a: Date.parse(T0), b: Date.parse(T0) - 1 },
      vanished: [{ gid: 'gone', subtype: 'default_task', version: 1 }],
    });
    const outcome = await resyncResource(fresh, HOLDER, deps, signal);
    expect(calls).toEqual([
      'start',
      `project ${P}`,
      'list first',
      'publish b',
      'save o2',
      'list o2',
      'publish c',
      'save end',
      'publish gone',
      'finish',
    ]);
    expect(saved.map((p) => p.repairs)).toEqual([
      { missing: 0, stale: 1, vanished: 0 },
      { missing: 1, stale: 0, vanished: 0 },
    ]);
    expect(saved.map((p) => p.listed)).toEqual([['a', 'b'], ['c']]);
    expect(finished()).toBe(1);
    expect(outcome).toEqual({
      kind: 'done',
      pages: 2,
      checked: 3,
      repairs: { missing: 1, stale: 1, vanished: 1 },
      resourceGone: false,
    });
  });

  it('corrects the project itself when the projection lacks it, counted with the first page', async () => {
    const { deps, published, saved } = fakes({ pages: { first: { data: [], nextOffset: null } } });
    await resyncResource(fresh, HOLDER, deps, signal);
    expect(published.map((e) => e.event.resource)).toEqual([{ gid: P, resource_type: 'project' }]);
    expect(saved[0].repairs).toEqual({ missing: 1, stale: 0, vanished: 0 });
  });

  it('resumes from the saved offset without starting over', async () => {
    const { deps, calls } = fakes({ pages: { o2: { data: [task('c')], nextOffset: null } } });
    await resyncResource({ ...fresh, offset: 'o2', pages: 1, checked: 2 }, HOLDER, deps, signal);
    expect(calls).toEqual(['list o2', 'publish c', 'save end', 'finish']);
  });

  it('goes straight to the vanished when the listing was done before a crash', async () => {
    const { deps, calls } = fakes({ vanished: [{ gid: 'gone', subtype: null, version: 1 }] });
    await resyncResource({ ...fresh, offset: null, pages: 3, checked: 250 }, HOLDER, deps, signal);
    expect(calls).toEqual(['publish gone', 'finish']);
  });

  it('takes the projection’s tasks with a project Asana no longer shows', async () => {
    const { deps, published, finished } = fakes({
      project: null,
      vanished: [{ gid: 't1', subtype: null, version: 1 }],
    });
    const outcome = await resyncResource(fresh, HOLDER, deps, signal);
    expect(published.map((e) => e.event.resource)).toEqual([
      { gid: P, resource_type: 'project' },
      { gid: 't1', resource_type: 'task' },
    ]);
    expect(finished()).toBe(2);
    expect(outcome).toMatchObject({ kind: 'done', resourceGone: true, repairs: { vanished: 2 } });
  });

  it('stops at once when another replica holds the resync', async () => {
    const { deps, calls } = fakes({
      pages: { first: { data: [task('a')], nextOffset: 'o2' } },
      leaseHeld: false,
    });
    await expect(resyncResource(fresh, HOLDER, deps, signal)).resolves.toEqual({ kind: 'lease-lost' });
    expect(calls.at(-1)).toBe('save o2');
  });

  it('stops between pages at shutdown, keeping what is saved', async () => {
    const stop = new AbortController();
    const { deps, calls } = fakes({
      pages: { first: { data: [task('a')], nextOffset: 'o2' }, o2: { data: [], nextOffset: null } },
      versions: { [P]: Date.parse(T0), a: Date.parse(T0) },
    });
    deps.onProgress = () => stop.abort();
    await expect(resyncResource(fresh, HOLDER, deps, stop.signal)).resolves.toEqual({ kind: 'interrupted' });
    expect(calls).toEqual(['start', `project ${P}`, 'list first', 'save o2']);
  });

  it('saves nothing of a page whose corrections Kafka did not take', async () => {
    const { deps, saved } = fakes({ pages: { first: { data: [task('a')], nextOffset: null } } });
    deps.repair = () => Promise.reject(new Error('Kafka is down'));
    await expect(resyncResource(fresh, HOLDER, deps, signal)).rejects.toThrow('Kafka is down');
    expect(saved).toEqual([]);
  });
});
