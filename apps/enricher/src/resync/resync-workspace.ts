import type { AsanaPage } from '@asana-stream/asana';
import type { ClaimedResync, ResyncRepository } from './resync.repository';
import { vanishedRepair } from './resync-plan';
import { runResync, type ResyncOutcome, type ResyncRunDeps } from './resync-run';

/** What the resync of a watched workspace needs besides what every resync does. */
export interface WorkspaceResyncDeps extends ResyncRunDeps {
  /** `GET /projects?workspace={gid}`, one page (archived projects too). */
  listProjects(workspaceGid: string, offset: string | null, signal: AbortSignal): Promise<AsanaPage>;
  repository: ResyncRunDeps['repository'] & Pick<ResyncRepository, 'vanishedProjects'>;
}

/**
 * One run of the resync of a watched workspace (a webhook on a workspace, which Asana lets carry
 * only project-level and similar events, never tasks' or stories'): its projects page by page
 * (`GET /projects?workspace=`, compared by `modified_at`). The workspace itself is not compared:
 * it has no `modified_at`. Once listed, the projection's live projects whose `workspace_gid` is
 * this workspace that Asana did not list are corrected (their fetch gives their tombstone).
 */
export function resyncWorkspace(
  claim: ClaimedResync,
  holder: string,
  deps: WorkspaceResyncDeps,
  signal: AbortSignal,
): Promise<ResyncOutcome> {
  const gid = claim.resourceGid;
  return runResync(
    claim,
    holder,
    {
      listings: [
        {
          name: 'projects',
          type: 'project',
          versioned: true,
          list: (offset, cancel) => deps.listProjects(gid, offset, cancel),
        },
      ],
      vanished: async (receivedAt) =>
        (await deps.repository.vanishedProjects(gid)).map(({ gid: project, version }) =>
          vanishedRepair(project, 'project', null, receivedAt, version),
        ),
      // Without `self` the workspace is never found gone.
      gone: () => Promise.resolve([]),
    },
    deps,
    signal,
  );
}
