import type { AsanaResource } from '@asana-stream/asana';
import type { ClaimedSweep } from './resync.repository';
import { countByCause, repairsForListing, type Repair } from './resync-plan';
import type { SweepDeps, SweepOutcome } from './sweep-resource';

/** What the light sweep of a watched task needs: the task itself (paced), and what every sweep does. */
export interface TaskSweepDeps extends Omit<SweepDeps, 'listModifiedTasks'> {
  /** The task (`GET /tasks/{gid}` with `modified_at`); null when Asana no longer shows it. */
  getTask(gid: string, signal: AbortSignal): Promise<AsanaResource | null>;
}

/**
 * The light sweep of a watched task: one request, the task itself, compared with the projection
 * by the full resync's rule and repaired the same way when missing or stale. Asana lists a task's
 * subtasks and stories with no `modified_since`, so listing them would cost as much as the full
 * resync: they, and a task Asana no longer shows (its tombstone), are the full resync's.
 */
export async function sweepTask(
  claim: ClaimedSweep,
  holder: string,
  deps: TaskSweepDeps,
  signal: AbortSignal,
): Promise<SweepOutcome> {
  if (signal.aborted) return { kind: 'interrupted' };
  const task = await deps.getTask(claim.resourceGid, signal);
  let repairs: Repair[] = [];
  if (task !== null) {
    repairs = repairsForListing([task], 'task', await deps.projectedVersions([task.gid]), deps.now().toISOString());
    if (repairs.length > 0) await deps.repair(repairs);
  }
  const totals = countByCause(repairs);
  if (!(await deps.repository.finishSweep(claim, holder, totals))) return { kind: 'lease-lost' };
  return { kind: 'done', pages: 1, checked: task === null ? 0 : 1, repairs: totals };
}
