import type { AsanaEvent, AsanaResource } from '@asana-stream/asana';
import type { ResourceStateMessage } from '@asana-stream/contracts';
import { decidingEvent } from './coalesce-events';
import { resourceVersion, tombstoneVersion, type FetchTimes } from './resource-version';

export type DecidedState = Pick<ResourceStateMessage, 'version' | 'versionSource' | 'deleted' | 'state'>;

/**
 * What the enricher publishes for one event, given what the API returned (null: 404/403) and
 * when (see tombstoneVersion for how a tombstone is versioned).
 * A `deleted` event whose time is not older than the state the API still returns wins: Asana's
 * API may serve a deleted task for a moment, and publishing that state would lose the delete.
 * A state modified after the delete (an undelete, say) wins over the event.
 */
export function decideState(event: AsanaEvent, fetched: AsanaResource | null, times: FetchTimes): DecidedState {
  if (fetched === null) return { ...tombstoneVersion(event, times), deleted: true, state: null };
  const live = resourceVersion(fetched, times.fetchedAt);
  const deletedAt = event.action === 'deleted' ? Date.parse(event.created_at) : NaN;
  if (Number.isFinite(deletedAt) && deletedAt >= live.version) {
    return { version: deletedAt, versionSource: 'deleted_event', deleted: true, state: null };
  }
  return { ...live, deleted: false, state: fetched };
}

/**
 * What the enricher publishes for several events of one resource answered by one fetch: the state
 * decideState gives for the event that decides it (decidingEvent: the latest `deleted` event, if
 * any). An event's action matters only when it is a delete, and the latest delete outranks the
 * earlier ones, so the projection ends where the events' states one by one, behind the version
 * guard, would have left it.
 */
export function decideCoalescedState(
  events: readonly AsanaEvent[],
  fetched: AsanaResource | null,
  times: FetchTimes,
): DecidedState {
  return decideState(decidingEvent(events), fetched, times);
}
