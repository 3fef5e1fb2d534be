import type { AsanaPage } from '@asana-stream/asana';
import type { ClaimedSweep, ResyncRepository } from './resync.repository';
import { countByCause, repairsForListing, type ProjectedVersions, type Repair, type RepairCause } from './resync-plan';

/** What a light sweep needs: Asana's modified tasks (paced), the projection's versions, its table, and the repair path. */
export interface SweepDeps {
  listModifiedTasks(projectGid: string, since: Date, offset: string | null, signal: AbortSignal): Promise<AsanaPage>;
  projectedVersions(gids: readonly string[]): Promise<ProjectedVersions>;
  repository: Pick<ResyncRepository, 'renewSweep' | 'finishSweep'>;
  /**
   * Sends repairs through the pipeline as a resync does (their divergences recorded, then their
   * events on `asana.events`); resolves once Kafka has them.
   */
  repair(repairs: Repair[]): Promise<void>;
  now(): Date;
  leaseMs: number;
}

export type SweepOutcome =
  | { kind: 'done'; pages: number; checked: number; repairs: Record<RepairCause, number> }
  /** Shutdown came mid-sweep: nothing is saved, and the next sweep lists from the same time. */
  | { kind: 'interrupted' }
  | { kind: 'lease-lost' };

/**
 * One light sweep of a project: only the tasks Asana modified since `claim.since`
 * (`GET /tasks?project=&modified_since=`, page by page), each compared with the projection by the
 * full resync's own rule (`repairsForListing`), each missing or stale one repaired the same way.
 * Unchanged, a project costs one request. It sees neither deleted tasks (Asana lists none) nor
 * tasks moved out, nor the project itself: those are the full resync's. Nothing is saved until
 * the end, so a sweep that fails or stops part way is done again from the same time; its repairs
 * repeat at worst, which the projector's version guard makes harmless.
 */
export async function sweepResource(
  claim: ClaimedSweep,
  holder: string,
  deps: SweepDeps,
  signal: AbortSignal,
): Promise<SweepOutcome> {
  const totals: Record<RepairCause, number> = { missing: 0, stale: 0, vanished: 0 };
  let offset: string | null = null;
  let pages = 0;
  let checked = 0;
  do {
    if (signal.aborted) return { kind: 'interrupted' };
    if (pages > 0 && !(await deps.repository.renewSweep(claim.resourceGid, holder, deps.leaseMs))) {
      return { kind: 'lease-lost' };
    }
    const page = await deps.listModifiedTasks(claim.resourceGid, claim.since, offset, signal);
    const versions = await deps.projectedVersions(page.data.map((task) => task.gid));
    const repairs = repairsForListing(page.data, 'task', versions, deps.now().toISOString());
    if (repairs.length > 0) await deps.repair(repairs);
    const counts = countByCause(repairs);
    totals.missing += counts.missing;
    totals.stale += counts.stale;
    pages += 1;
    checked += page.data.length;
    offset = page.nextOffset;
  } while (offset !== null);
  if (!(await deps.repository.finishSweep(claim, holder, totals))) return { kind: 'lease-lost' };
  return { kind: 'done', pages, checked, repairs: totals };
}
