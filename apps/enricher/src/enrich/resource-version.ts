import type { AsanaEvent, AsanaResource } from '@asana-stream/asana';
import type { ResourceStateMessage } from '@asana-stream/contracts';
import { OPT_FIELDS } from './opt-fields';

export interface ResourceVersion {
  version: number;
  versionSource: ResourceStateMessage['versionSource'];
}

/** Our clock around one fetch: read just before the request that was answered went out, and when the answer came. */
export interface FetchTimes {
  requestedAt: Date;
  fetchedAt: Date;
}

/**
 * The version that orders states of one resource: Asana's `modified_at` where the resource has
 * one (tasks, projects, …), else the time we fetched it (stories, users).
 */
export function resourceVersion(resource: AsanaResource | null, fetchedAt: Date): ResourceVersion {
  const modifiedAt = resource?.modified_at;
  if (typeof modifiedAt === 'string') {
    const ms = Date.parse(modifiedAt);
    if (Number.isFinite(ms)) return { version: ms, versionSource: 'modified_at' };
  }
  return { version: fetchedAt.getTime(), versionSource: 'fetched_at' };
}

/** Whether the live states of this resource type are versioned by Asana's `modified_at` (we ask for it). */
export function versionedByModifiedAt(resourceType: string): boolean {
  return OPT_FIELDS[resourceType]?.includes('modified_at') ?? false;
}

/**
 * The version of a tombstone: the API answered `event`'s fetch with 404/403.
 *
 * Where live states carry Asana's `modified_at`, the tombstone must be on Asana's timeline and
 * use only what was known before the request: the 404 was decided at some moment after the
 * request went out, and a live state modified later (an undelete that lands while the answer
 * travels back) has a `modified_at` at or after `requestedAt`. So the tombstone is versioned
 * `requestedAt - 1` ms, which every such state outranks, or by a `deleted` event's `created_at`
 * (the delete's own time, older than any undelete) when that is later: then it also outranks
 * every state modified before the delete, even with Asana's clock ahead of ours.
 *
 * Where live states are versioned by our fetch time (stories, users), so is the tombstone: one
 * gid's fetches run one after another, so the answer time orders it after every earlier fetch.
 */
export function tombstoneVersion(event: AsanaEvent, { requestedAt, fetchedAt }: FetchTimes): ResourceVersion {
  if (!versionedByModifiedAt(event.resource.resource_type)) {
    return { version: fetchedAt.getTime(), versionSource: 'fetched_at' };
  }
  const beforeRequest = requestedAt.getTime() - 1;
  const deletedAt = event.action === 'deleted' ? Date.parse(event.created_at) : NaN;
  if (Number.isFinite(deletedAt) && deletedAt > beforeRequest) {
    return { version: deletedAt, versionSource: 'deleted_event' };
  }
  return { version: beforeRequest, versionSource: 'fetched_at' };
}
