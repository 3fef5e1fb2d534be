import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { ClaimedResync, ResyncRepository } from './resync.repository';
import { vanishedRepair, type Repair } from './resync-plan';
import { runResync, type ResyncOutcome, type ResyncRunDeps } from './resync-run';

export type { ResyncOutcome } from './resync-run';

/** Fields a resync lists: enough to compare with the projection's version. */
export const RESYNC_OPT_FIELDS = ['modified_at', 'resource_subtype'] as const;

/** What the resync of a project needs besides what every resync does: Asana (paced), and its tasks in the projection. */
export interface ResyncDeps extends ResyncRunDeps {
  /** The project itself; null when Asana no longer shows it (404/403). */
  getProject(gid: string, signal: AbortSignal): Promise<AsanaResource | null>;
  listTasks(projectGid: string, offset: string | null, signal: AbortSignal): Promise<AsanaPage>;
  repository: ResyncRunDeps['repository'] & Pick<ResyncRepository, 'vanishedTasks'>;
}

/**
 * One run of the resync of a project (`runResync`): the project itself (`GET /projects/{gid}`),
 * then its tasks page by page (`GET /projects/{gid}/tasks` with `modified_at`); once listed, the
 * projection's live tasks whose state names the project but that were not listed are corrected
 * (deleted, or moved out). A project Asana no longer shows takes its tasks with it.
 */
export function resyncResource(
  claim: ClaimedResync,
  holder: string,
  deps: ResyncDeps,
  signal: AbortSignal,
): Promise<ResyncOutcome> {
  const gid = claim.resourceGid;
  const vanishedTasks = async (receivedAt: string): Promise<Repair[]> =>
    (await deps.repository.vanishedTasks(gid)).map(({ gid: task, subtype, version }) =>
      vanishedRepair(task, 'task', subtype, receivedAt, version),
    );
  return runResync(
    claim,
    holder,
    {
      self: { type: 'project', fetch: (cancel) => deps.getProject(gid, cancel) },
      listings: [
        { name: 'tasks', type: 'task', versioned: true, list: (offset, cancel) => deps.listTasks(gid, offset, cancel) },
      ],
      vanished: vanishedTasks,
      gone: async (receivedAt) => {
        const projectVersion = (await deps.projectedVersions([gid])).get(gid) ?? null;
        return [vanishedRepair(gid, 'project', null, receivedAt, projectVersion), ...(await vanishedTasks(receivedAt))];
      },
    },
    deps,
    signal,
  );
}
