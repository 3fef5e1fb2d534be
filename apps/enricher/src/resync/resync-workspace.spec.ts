import type { AsanaPage } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { ClaimedResync } from './resync.repository';
import { resyncWorkspace, type WorkspaceResyncDeps } from './resync-workspace';

const W = 'workspace-1';
const T0 = '2026-11-22T10:00:00.000Z';
const fresh: ClaimedResync = {
  resourceGid: W,
  reason: 'asked',
  offset: null,
  pages: 0,
  checked: 0,
  resourceType: 'workspace',
  webhookGid: null,
};

describe('resyncWorkspace', () => {
  it('lists the workspace’s projects page by page, repairs the missing and stale ones, then the vanished', async () => {
    const requests: string[] = [];
    const published: AsanaEventEnvelope[] = [];
    const pages: Record<string, AsanaPage> = {
      first: { data: [{ gid: 'p-missing', modified_at: T0 }], nextOffset: 'o2' },
      o2: {
        data: [
          { gid: 'p-stale', modified_at: T0 },
          { gid: 'p-current', modified_at: T0 },
        ],
        nextOffset: null,
      },
    };
    const versions = new Map([
      ['p-stale', 1],
      ['p-current', Date.parse(T0)],
    ]);
    const deps: WorkspaceResyncDeps = {
      listProjects: (gid, offset) => {
        requests.push(`GET /projects?workspace=${gid} ${offset ?? 'first'}`);
        return Promise.resolve(pages[offset ?? 'first']);
      },
      projectedVersions: (gids) => Promise.resolve(new Map([...versions].filter(([gid]) => gids.includes(gid)))),
      repository: {
        startListing: () => Promise.resolve(),
        savePage: () => Promise.resolve(true),
        finish: () => Promise.resolve(true),
        vanishedProjects: () => Promise.resolve([{ gid: 'p-gone', subtype: null, version: 1 }]),
      },
      repair: (repairs) => {
        published.push(...repairs.map((r) => r.envelope));
        return Promise.resolve();
      },
      now: () => new Date('2026-11-22T12:00:00.000Z'),
      leaseMs: 60_000,
      fullIntervalMs: 86_400_000,
    };
    const outcome = await resyncWorkspace(fresh, 'h', deps, new AbortController().signal);
    // The workspace itself is not fetched: it has no modified_at to compare.
    expect(requests).toEqual([`GET /projects?workspace=${W} first`, `GET /projects?workspace=${W} o2`]);
    expect(published.map(({ event }) => `${event.resource.resource_type} ${event.resource.gid}`)).toEqual([
      'project p-missing',
      'project p-stale',
      'project p-gone',
    ]);
    expect(outcome).toEqual({
      kind: 'done',
      pages: 2,
      checked: 3,
      repairs: { missing: 1, stale: 1, vanished: 1 },
      resourceGone: false,
    });
  });
});
