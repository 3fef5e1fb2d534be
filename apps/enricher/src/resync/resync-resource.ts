import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { ClaimedResync, ResyncRepository } from './resync.repository';
import {
  countByCause,
  repairsForListing,
  vanishedRepair,
  type ProjectedVersions,
  type Repair,
  type RepairCause,
} from './resync-plan';

/** Fields a resync lists: enough to compare with the projection's version. */
export const RESYNC_OPT_FIELDS = ['modified_at', 'resource_subtype'] as const;

/** What a resync needs: Asana (paced), the projection's versions, its table, and `asana.events`. */
export interface ResyncDeps {
  /** The project itself; null when Asana no longer shows it (404/403). */
  getProject(gid: string, signal: AbortSignal): Promise<AsanaResource | null>;
  listTasks(projectGid: string, offset: string | null, signal: AbortSignal): Promise<AsanaPage>;
  projectedVersions(gids: readonly string[]): Promise<ProjectedVersions>;
  repository: Pick<ResyncRepository, 'startListing' | 'savePage' | 'vanishedTasks' | 'finish'>;
  /**
   * Sends repairs through the pipeline: records their divergences, then publishes their events to
   * `asana.events` (keyed by resource gid); resolves once Kafka has them.
   */
  repair(repairs: Repair[]): Promise<void>;
  now(): Date;
  leaseMs: number;
  fullIntervalMs: number;
  /** Called after each page is saved. */
  onProgress?(progress: { pages: number; checked: number; repairs: Record<RepairCause, number> }): void;
}

export type ResyncOutcome =
  | { kind: 'done'; pages: number; checked: number; repairs: Record<RepairCause, number>; resourceGone: boolean }
  /** Shutdown came mid-run: what is saved stays, and the next holder resumes from there. */
  | { kind: 'interrupted' }
  | { kind: 'lease-lost' };

/**
 * One run of the resync of a project (issue: Asana's webhooks and Events API are at most once):
 * the project itself, then its tasks page by page (`GET /projects/{gid}/tasks` with `modified_at`),
 * each compared with the projection's version; every correction is a `changed` event of the
 * resource on `asana.events` (source `resync`), published before the page is saved, so a crash
 * resumes at the page after the last one saved and repeats at most one page's corrections
 * (harmless: the projector's version guard). Once listed, the projection's tasks of the project
 * that were not listed are corrected too (their fetch gives a tombstone or their new state). A
 * project Asana no longer shows takes its tasks with it.
 */
export async function resyncResource(
  claim: ClaimedResync,
  holder: string,
  deps: ResyncDeps,
  signal: AbortSignal,
): Promise<ResyncOutcome> {
  const gid = claim.resourceGid;
  const receivedAt = () => deps.now().toISOString();
  const totals: Record<RepairCause, number> = { missing: 0, stale: 0, vanished: 0 };
  let pages = claim.pages;
  let checked = claim.checked;
  let offset = claim.offset;
  let carried: Record<RepairCause, number> = { missing: 0, stale: 0, vanished: 0 };

  const publish = async (repairs: Repair[]) => {
    if (repairs.length > 0) await deps.repair(repairs);
    const counts = countByCause(repairs);
    for (const cause of Object.keys(counts) as RepairCause[]) totals[cause] += counts[cause];
    return counts;
  };

  if (pages === 0 && offset === null) {
    await deps.repository.startListing(gid);
    const project = await deps.getProject(gid, signal);
    if (project === null) {
      const projectVersion = (await deps.projectedVersions([gid])).get(gid) ?? null;
      const vanished = [
        vanishedRepair(gid, 'project', null, receivedAt(), projectVersion),
        ...(await vanishedTaskRepairs(gid, deps)),
      ];
      await publish(vanished);
      if (!(await deps.repository.finish(gid, holder, vanished.length, deps.fullIntervalMs))) {
        return { kind: 'lease-lost' };
      }
      return { kind: 'done', pages, checked, repairs: totals, resourceGone: true };
    }
    carried = await publish(repairsForListing([project], 'project', await deps.projectedVersions([gid]), receivedAt()));
  }

  // pages > 0 with no offset: the listing was done before a crash; only the vanished remain.
  while (pages === 0 || offset !== null) {
    if (signal.aborted) return { kind: 'interrupted' };
    const page = await deps.listTasks(gid, offset, signal);
    const versions = await deps.projectedVersions(page.data.map((task) => task.gid));
    const counts = await publish(repairsForListing(page.data, 'task', versions, receivedAt()));
    const repairs = { missing: counts.missing + carried.missing, stale: counts.stale + carried.stale, vanished: 0 };
    const listed = page.data.map((task) => task.gid);
    if (
      !(await deps.repository.savePage(gid, holder, { listed, nextOffset: page.nextOffset, repairs }, deps.leaseMs))
    ) {
      return { kind: 'lease-lost' };
    }
    carried = { missing: 0, stale: 0, vanished: 0 };
    pages += 1;
    checked += listed.length;
    offset = page.nextOffset;
    deps.onProgress?.({ pages, checked, repairs: { ...totals } });
  }

  if (signal.aborted) return { kind: 'interrupted' };
  const vanished = await vanishedTaskRepairs(gid, deps);
  await publish(vanished);
  if (!(await deps.repository.finish(gid, holder, vanished.length, deps.fullIntervalMs))) {
    return { kind: 'lease-lost' };
  }
  return { kind: 'done', pages, checked, repairs: totals, resourceGone: false };
}

async function vanishedTaskRepairs(projectGid: string, deps: ResyncDeps): Promise<Repair[]> {
  const now = deps.now().toISOString();
  return (await deps.repository.vanishedTasks(projectGid)).map(({ gid, subtype, version }) =>
    vanishedRepair(gid, 'task', subtype, now, version),
  );
}
