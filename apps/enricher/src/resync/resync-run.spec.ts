import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { ClaimedResync } from './resync.repository';
import { vanishedRepair, type RepairCause } from './resync-plan';
import {
  decodeCursor,
  encodeCursor,
  nextCursor,
  runResync,
  type ResyncListing,
  type ResyncPlan,
  type ResyncRunDeps,
} from './resync-run';

const HOLDER = 'replica-1';
const R = 'resource-1';
const T0 = '2026-11-22T10:00:00.000Z';
const fresh: ClaimedResync = {
  resourceGid: R,
  reason: 'asked',
  offset: null,
  pages: 0,
  checked: 0,
  resourceType: 'task',
  webhookGid: null,
};
const signal = new AbortController().signal;
const item = (gid: string, modifiedAt?: string): AsanaResource => ({
  gid,
  ...(modifiedAt ? { modified_at: modifiedAt } : {}),
});

const listing = (name: string): ResyncListing => ({
  name,
  type: name,
  versioned: true,
  list: () => Promise.reject(new Error('unused')),
});
const ONE = [listing('tasks')];
const TWO = [listing('subtasks'), listing('stories')];

describe('the saved place of a run with one or more listings', () => {
  it.each([
    ['a fresh run', ONE, 0, null, { listing: 0, offset: null }],
    ['a bare offset (the first listing, as a project always saved it)', ONE, 2, 'o2', { listing: 0, offset: 'o2' }],
    ['a done listing', ONE, 3, null, null],
    ['a bare offset of the first of two', TWO, 1, 'o2', { listing: 0, offset: 'o2' }],
    ['the second listing’s first page', TWO, 1, 'stories:', { listing: 1, offset: null }],
    ['the second listing’s later page', TWO, 2, 'stories:o3', { listing: 1, offset: 'o3' }],
    ['the first listing’s name is never a prefix', TWO, 1, 'subtasks:o2', { listing: 0, offset: 'subtasks:o2' }],
  ] as const)('reads %s back', (_what, listings, pages, saved, cursor) => {
    expect(decodeCursor(listings, pages, saved)).toEqual(cursor);
    if (cursor !== null && pages > 0) expect(encodeCursor(listings, cursor)).toBe(saved);
  });

  it('moves to the next page, then the next listing, then ends', () => {
    expect(nextCursor(TWO, { listing: 0, offset: null }, 'o2')).toEqual({ listing: 0, offset: 'o2' });
    expect(nextCursor(TWO, { listing: 0, offset: 'o2' }, null)).toEqual({ listing: 1, offset: null });
    expect(nextCursor(TWO, { listing: 1, offset: null }, null)).toBeNull();
    expect(nextCursor(ONE, { listing: 0, offset: 'o2' }, null)).toBeNull();
    expect(encodeCursor(TWO, null)).toBeNull();
  });
});

/** A plan of two listings, the projection and the table in memory, with a log of what the run did in order. */
function fakes({
  self = item(R, T0),
  withSelf = true,
  pages,
  versions = {},
  secondVersioned = true,
}: {
  self?: AsanaResource | null;
  withSelf?: boolean;
  pages: Record<string, AsanaPage>;
  versions?: Record<string, number>;
  secondVersioned?: boolean;
}) {
  const calls: string[] = [];
  const published: AsanaEventEnvelope[] = [];
  const saved: { nextOffset: string | null; repairs: Record<RepairCause, number> }[] = [];
  const lister =
    (name: string) =>
    (offset: string | null): Promise<AsanaPage> => {
      const key = `${name} ${offset ?? 'first'}`;
      calls.push(`list ${key}`);
      const page = pages[key];
      return page ? Promise.resolve(page) : Promise.reject(new Error(`no page ${key}`));
    };
  const plan: ResyncPlan = {
    ...(withSelf
      ? {
          self: {
            type: 'task',
            fetch: () => {
              calls.push('self');
              return Promise.resolve(self);
            },
          },
        }
      : {}),
    listings: [
      { name: 'subtasks', type: 'task', versioned: true, list: lister('subtasks') },
      { name: 'stories', type: 'story', versioned: secondVersioned, list: lister('stories') },
    ],
    vanished: (at) => Promise.resolve([vanishedRepair('old-story', 'story', 'comment_added', at, 1)]),
    gone: (at) => Promise.resolve([vanishedRepair(R, 'task', null, at, null)]),
  };
  const deps: ResyncRunDeps = {
    projectedVersions: (gids) =>
      Promise.resolve(new Map(gids.filter((g) => g in versions).map((g) => [g, versions[g]]))),
    repository: {
      startListing: () => {
        calls.push('start');
        return Promise.resolve();
      },
      savePage: (_gid, _holder, page) => {
        calls.push(`save ${page.nextOffset ?? 'end'}`);
        saved.push(page);
        return Promise.resolve(true);
      },
      finish: (_gid, _holder, vanished) => {
        calls.push(`finish ${vanished}`);
        return Promise.resolve(true);
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
  return { plan, deps, calls, published, saved };
}

describe('runResync', () => {
  it('lists each listing in turn, saving each page’s place, then corrects the vanished', async () => {
    const { plan, deps, calls, published } = fakes({
      pages: {
        'subtasks first': { data: [item('s1', T0)], nextOffset: 'o2' },
        'subtasks o2': { data: [item('s2', T0)], nextOffset: null },
        'stories first': { data: [item('c1')], nextOffset: null },
      },
      versions: { [R]: Date.parse(T0), s1: Date.parse(T0), s2: 1 },
    });
    const outcome = await runResync(fresh, HOLDER, plan, deps, signal);
    expect(calls).toEqual([
      'start',
      'self',
      'list subtasks first',
      'save o2',
      'list subtasks o2',
      'publish s2',
      'save stories:',
      'list stories first',
      'publish c1',
      'save end',
      'publish old-story',
      'finish 1',
    ]);
    expect(published.map((e) => e.event.resource)).toEqual([
      { gid: 's2', resource_type: 'task' },
      { gid: 'c1', resource_type: 'story' },
      { gid: 'old-story', resource_type: 'story', resource_subtype: 'comment_added' },
    ]);
    expect(outcome).toEqual({
      kind: 'done',
      pages: 3,
      checked: 3,
      repairs: { missing: 1, stale: 1, vanished: 1 },
      resourceGone: false,
    });
  });

  it('resumes in the second listing from its saved place', async () => {
    const { plan, deps, calls } = fakes({ pages: { 'stories o3': { data: [], nextOffset: null } } });
    await runResync({ ...fresh, pages: 2, checked: 5, offset: 'stories:o3' }, HOLDER, plan, deps, signal);
    expect(calls).toEqual(['list stories o3', 'save end', 'publish old-story', 'finish 1']);
  });

  it('repairs only what the projection lacks of a listing without modified_at', async () => {
    const { plan, deps, published } = fakes({
      secondVersioned: false,
      pages: {
        'subtasks first': { data: [], nextOffset: null },
        'stories first': { data: [item('held'), item('lacked')], nextOffset: null },
      },
      versions: { [R]: Date.parse(T0), held: 5 },
    });
    await runResync(fresh, HOLDER, plan, deps, signal);
    expect(published.map((e) => e.event.resource.gid)).toEqual(['lacked', 'old-story']);
  });

  it('makes the plan’s tombstones, and lists nothing, when Asana no longer shows the resource', async () => {
    const { plan, deps, calls, published } = fakes({ self: null, pages: {} });
    const outcome = await runResync(fresh, HOLDER, plan, deps, signal);
    expect(calls).toEqual(['start', 'self', `publish ${R}`, 'finish 1']);
    expect(published.map((e) => e.event.resource)).toEqual([{ gid: R, resource_type: 'task' }]);
    expect(outcome).toMatchObject({ kind: 'done', resourceGone: true, repairs: { vanished: 1 } });
  });

  it('starts with the first listing when the plan has nothing of the resource itself to compare', async () => {
    const { plan, deps, calls } = fakes({
      withSelf: false,
      pages: { 'subtasks first': { data: [], nextOffset: null }, 'stories first': { data: [], nextOffset: null } },
    });
    await runResync(fresh, HOLDER, plan, deps, signal);
    expect(calls.slice(0, 2)).toEqual(['start', 'list subtasks first']);
  });
});
