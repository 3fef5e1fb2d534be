import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { ClaimedSweep } from './resync.repository';
import type { Repair } from './resync-plan';
import { sweepResource, type SweepDeps } from './sweep-resource';

const HOLDER = 'replica-1';
const T0 = '2026-11-22T10:00:00.000Z';
const SINCE = new Date('2026-11-22T09:59:00.000Z');
const claim: ClaimedSweep = {
  resourceGid: 'project-1',
  resourceType: 'project',
  since: SINCE,
  startedAt: new Date('2026-11-22T10:14:00.000Z'),
  requestedSince: null,
};

/** Asana's modified tasks, the projection and the table in memory, with a log of what the sweep did in order. */
function fakes({
  pages,
  versions = {},
  leaseHeld = true,
}: {
  pages: Record<string, AsanaPage>;
  versions?: Record<string, number>;
  leaseHeld?: boolean;
}) {
  const calls: string[] = [];
  const repaired: Repair[] = [];
  let finished: { missing: number; stale: number } | undefined;
  const deps: SweepDeps = {
    listModifiedTasks: (gid, since, offset) => {
      expect([gid, since]).toEqual([claim.resourceGid, SINCE]);
      calls.push(`list ${offset ?? 'first'}`);
      const page = pages[offset ?? 'first'];
      if (!page) throw new Error(`no page at ${offset}`);
      return Promise.resolve(page);
    },
    projectedVersions: (gids) =>
      Promise.resolve(new Map(gids.filter((g) => g in versions).map((g) => [g, versions[g]]))),
    repository: {
      renewSweep: (_gid, holder) => {
        expect(holder).toBe(HOLDER);
        calls.push('renew');
        return Promise.resolve(leaseHeld);
      },
      finishSweep: (finishing, holder, repairs) => {
        expect([finishing, holder]).toEqual([claim, HOLDER]);
        calls.push('finish');
        finished = repairs;
        return Promise.resolve(leaseHeld);
      },
    },
    repair: (repairs) => {
      calls.push(`repair ${repairs.map((r) => r.envelope.event.resource.gid).join(',')}`);
      repaired.push(...repairs);
      return Promise.resolve();
    },
    now: () => new Date('2026-11-22T10:14:00.000Z'),
    leaseMs: 60_000,
  };
  return { deps, calls, repaired, finished: () => finished };
}

const task = (gid: string, modifiedAt = T0): AsanaResource => ({ gid, modified_at: modifiedAt });
const signal = new AbortController().signal;

describe('sweepResource', () => {
  it('costs one request and repairs nothing when every modified task is current in Postgres', async () => {
    const { deps, calls, finished } = fakes({
      pages: { first: { data: [task('a')], nextOffset: null } },
      versions: { a: Date.parse(T0) },
    });
    const outcome = await sweepResource(claim, HOLDER, deps, signal);
    expect(calls).toEqual(['list first', 'finish']);
    expect(finished()).toEqual({ missing: 0, stale: 0, vanished: 0 });
    expect(outcome).toEqual({ kind: 'done', pages: 1, checked: 1, repairs: { missing: 0, stale: 0, vanished: 0 } });
  });

  it("repairs the missing and the stale by the full resync's rule, page by page, then finishes", async () => {
    const { deps, calls, repaired } = fakes({
      pages: {
        first: { data: [task('a'), task('b')], nextOffset: 'o2' },
        o2: { data: [task('c', '2026-11-22T10:05:00.000Z')], nextOffset: null },
      },
      versions: { a: Date.parse(T0), b: Date.parse(T0) - 1 },
    });
    const outcome = await sweepResource(claim, HOLDER, deps, signal);
    expect(calls).toEqual(['list first', 'repair b', 'renew', 'list o2', 'repair c', 'finish']);
    expect(repaired.map((r) => [r.envelope.event.resource.gid, r.cause, r.envelope.source])).toEqual([
      ['b', 'stale', 'resync'],
      ['c', 'missing', 'resync'],
    ]);
    expect(repaired[1]).toMatchObject({ asanaVersion: Date.parse('2026-11-22T10:05:00.000Z'), projectedVersion: null });
    expect(outcome).toMatchObject({ kind: 'done', pages: 2, checked: 3, repairs: { missing: 1, stale: 1 } });
  });

  it('saves nothing when Kafka does not take a repair, so the next sweep lists from the same time', async () => {
    const { deps, calls } = fakes({ pages: { first: { data: [task('a')], nextOffset: null } } });
    deps.repair = () => Promise.reject(new Error('Kafka is down'));
    await expect(sweepResource(claim, HOLDER, deps, signal)).rejects.toThrow('Kafka is down');
    expect(calls).toEqual(['list first']);
  });

  it('stops when another replica took the lease between pages', async () => {
    const { deps, calls } = fakes({
      pages: { first: { data: [], nextOffset: 'o2' } },
      leaseHeld: false,
    });
    await expect(sweepResource(claim, HOLDER, deps, signal)).resolves.toEqual({ kind: 'lease-lost' });
    expect(calls).toEqual(['list first', 'renew']);
  });

  it('stops at shutdown without finishing', async () => {
    const stop = new AbortController();
    stop.abort();
    const { deps, calls } = fakes({ pages: {} });
    await expect(sweepResource(claim, HOLDER, deps, stop.signal)).resolves.toEqual({ kind: 'interrupted' });
    expect(calls).toEqual([]);
  });
});
