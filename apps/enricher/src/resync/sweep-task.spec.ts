import type { AsanaResource } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { ClaimedSweep } from './resync.repository';
import type { RepairCause } from './resync-plan';
import { sweepTask, type TaskSweepDeps } from './sweep-task';

const T = 'task-1';
const T0 = '2026-11-22T10:00:00.000Z';
const claim: ClaimedSweep = {
  resourceGid: T,
  resourceType: 'task',
  since: new Date('2026-11-22T09:00:00.000Z'),
  startedAt: new Date('2026-11-22T10:15:00.000Z'),
  requestedSince: null,
};

function fakes(task: AsanaResource | null, projected: number | undefined, leaseHeld = true) {
  const requests: string[] = [];
  const published: AsanaEventEnvelope[] = [];
  const finished: Pick<Record<RepairCause, number>, 'missing' | 'stale'>[] = [];
  const deps: TaskSweepDeps = {
    getTask: (gid) => {
      requests.push(`GET /tasks/${gid}`);
      return Promise.resolve(task);
    },
    projectedVersions: (gids) =>
      Promise.resolve(new Map(projected === undefined ? [] : gids.map((gid) => [gid, projected]))),
    repository: {
      renewSweep: () => Promise.reject(new Error('one request: nothing to renew between')),
      finishSweep: (_claim, _holder, repairs) => {
        finished.push(repairs);
        return Promise.resolve(leaseHeld);
      },
    },
    repair: (repairs) => {
      published.push(...repairs.map((r) => r.envelope));
      return Promise.resolve();
    },
    now: () => new Date('2026-11-22T10:15:00.000Z'),
    leaseMs: 60_000,
  };
  return { deps, requests, published, finished };
}

describe('sweepTask', () => {
  it.each([
    ['stale', { gid: T, modified_at: T0 }, 1, ['task'], { missing: 0, stale: 1, vanished: 0 }],
    ['missing', { gid: T, modified_at: T0 }, undefined, ['task'], { missing: 1, stale: 0, vanished: 0 }],
    ['current', { gid: T, modified_at: T0 }, Date.parse(T0), [], { missing: 0, stale: 0, vanished: 0 }],
    // Its tombstone is the full resync's, as a project sweep leaves deleted tasks to it.
    ['no longer shown by Asana', null, 1, [], { missing: 0, stale: 0, vanished: 0 }],
  ] as const)('fetches the task once and repairs it when %s', async (_what, task, projected, types, repairs) => {
    const { deps, requests, published, finished } = fakes(task, projected);
    const outcome = await sweepTask(claim, 'h', deps, new AbortController().signal);
    expect(requests).toEqual([`GET /tasks/${T}`]);
    expect(published.map(({ event }) => event.resource.resource_type)).toEqual(types);
    expect(finished).toEqual([repairs]);
    expect(outcome).toMatchObject({ kind: 'done', pages: 1, repairs });
  });

  it('says so when another replica took the sweep over', async () => {
    const { deps } = fakes({ gid: T, modified_at: T0 }, Date.parse(T0), false);
    await expect(sweepTask(claim, 'h', deps, new AbortController().signal)).resolves.toEqual({ kind: 'lease-lost' });
  });

  it('does nothing once shutdown began', async () => {
    const stop = new AbortController();
    stop.abort();
    const { deps, requests } = fakes({ gid: T, modified_at: T0 }, 1);
    await expect(sweepTask(claim, 'h', deps, stop.signal)).resolves.toEqual({ kind: 'interrupted' });
    expect(requests).toEqual([]);
  });
});
