import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { ClaimedResync, ResyncRepository } from './resync.repository';
import { vanishedRepair, type Repair } from './resync-plan';
import { runResync, type ResyncOutcome, type ResyncRunDeps } from './resync-run';

/** What the resync of a watched task needs besides what every resync does. */
export interface TaskResyncDeps extends ResyncRunDeps {
  /** The task itself (`GET /tasks/{gid}`); null when Asana no longer shows it (404/403). */
  getTask(gid: string, signal: AbortSignal): Promise<AsanaResource | null>;
  /** `GET /tasks/{gid}/subtasks`, one page. */
  listSubtasks(taskGid: string, offset: string | null, signal: AbortSignal): Promise<AsanaPage>;
  /** `GET /tasks/{gid}/stories`, one page. */
  listStories(taskGid: string, offset: string | null, signal: AbortSignal): Promise<AsanaPage>;
  repository: ResyncRunDeps['repository'] & Pick<ResyncRepository, 'vanishedSubtasks' | 'vanishedStories'>;
}

/**
 * One run of the resync of a watched task (a webhook on a task): the task itself, then its
 * subtasks (compared by `modified_at`, as a project's tasks) and its stories (which have no
 * `modified_at`: only the ones the projection lacks are repaired), page by page. Once listed, the
 * projection's live subtasks whose state names this task as `parent`, and its live stories whose
 * state names it as `target`, that Asana did not list are corrected (their fetch gives their
 * tombstone, or the new state of a subtask moved to another parent). A task Asana no longer shows
 * becomes a task tombstone and takes its subtasks and stories with it.
 */
export function resyncTask(
  claim: ClaimedResync,
  holder: string,
  deps: TaskResyncDeps,
  signal: AbortSignal,
): Promise<ResyncOutcome> {
  const gid = claim.resourceGid;
  const vanishedChildren = async (receivedAt: string): Promise<Repair[]> => [
    ...(await deps.repository.vanishedSubtasks(gid)).map(({ gid: subtask, subtype, version }) =>
      vanishedRepair(subtask, 'task', subtype, receivedAt, version),
    ),
    ...(await deps.repository.vanishedStories(gid)).map(({ gid: story, subtype, version }) =>
      vanishedRepair(story, 'story', subtype, receivedAt, version),
    ),
  ];
  return runResync(
    claim,
    holder,
    {
      self: { type: 'task', fetch: (cancel) => deps.getTask(gid, cancel) },
      listings: [
        {
          name: 'subtasks',
          type: 'task',
          versioned: true,
          list: (offset, cancel) => deps.listSubtasks(gid, offset, cancel),
        },
        {
          name: 'stories',
          type: 'story',
          versioned: false,
          list: (offset, cancel) => deps.listStories(gid, offset, cancel),
        },
      ],
      vanished: vanishedChildren,
      gone: async (receivedAt) => {
        const taskVersion = (await deps.projectedVersions([gid])).get(gid) ?? null;
        return [vanishedRepair(gid, 'task', null, receivedAt, taskVersion), ...(await vanishedChildren(receivedAt))];
      },
    },
    deps,
    signal,
  );
}
