import { asanaEventId, type AsanaEvent, type AsanaResource } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { FoundDivergence } from '@asana-stream/db';

/** Why a resync corrects a resource. */
export type RepairCause = 'missing' | 'stale' | 'vanished';

export interface Repair {
  cause: RepairCause;
  envelope: AsanaEventEnvelope;
  /** Asana's version found (its `modified_at`, ms); null when unknown (vanished, or no `modified_at`). */
  asanaVersion: number | null;
  /** The version the projection held when found; null when it lacked the resource. */
  projectedVersion: number | null;
}

/** A resource the projection holds: its version (ms), to compare with Asana's `modified_at`. */
export type ProjectedVersions = ReadonlyMap<string, number>;

/**
 * The corrections one page of a resource's listing calls for: a resource the projection lacks
 * (`missing`), or holds at a version older than Asana's `modified_at` (`stale`). Each becomes a
 * `changed` event of the resource (source `resync`) for the enricher, which fetches its state as
 * for any event: the repair reaches Postgres and downstream topics by the normal path, and the
 * projector's version guard lets nothing through twice. Its `created_at` is the listed
 * `modified_at`, so two resyncs finding the same stale state give the same event id.
 *
 * `versioned: false` is for resources Asana gives no `modified_at` (stories): the projection holds
 * them at our fetch time, which says nothing of Asana's, so only a missing one is repaired.
 */
export function repairsForListing(
  listed: readonly AsanaResource[],
  resourceType: string,
  versions: ProjectedVersions,
  receivedAt: string,
  { versioned = true }: { versioned?: boolean } = {},
): Repair[] {
  const repairs: Repair[] = [];
  for (const resource of listed) {
    const modifiedAt = typeof resource.modified_at === 'string' ? Date.parse(resource.modified_at) : NaN;
    const stored = versions.get(resource.gid);
    let cause: RepairCause | null = null;
    if (stored === undefined) cause = 'missing';
    else if (versioned && (!Number.isFinite(modifiedAt) || stored < modifiedAt)) cause = 'stale';
    if (cause === null) continue;
    const known = Number.isFinite(modifiedAt);
    const createdAt = known ? new Date(modifiedAt).toISOString() : receivedAt;
    repairs.push({
      cause,
      envelope: repairEnvelope(resource, resourceType, createdAt, receivedAt),
      asanaVersion: known ? modifiedAt : null,
      projectedVersion: stored ?? null,
    });
  }
  return repairs;
}

/**
 * A resource the projection holds as part of the resource being resynced that Asana no longer
 * lists there (deleted, or moved out): its fetch gives its tombstone or its new state.
 */
export function vanishedRepair(
  gid: string,
  resourceType: string,
  resourceSubtype: string | null,
  receivedAt: string,
  projectedVersion: number | null = null,
): Repair {
  const resource: AsanaResource = { gid, ...(resourceSubtype ? { resource_subtype: resourceSubtype } : {}) };
  return {
    cause: 'vanished',
    envelope: repairEnvelope(resource, resourceType, receivedAt, receivedAt),
    asanaVersion: null,
    projectedVersion,
  };
}

function repairEnvelope(
  resource: AsanaResource,
  resourceType: string,
  createdAt: string,
  receivedAt: string,
): AsanaEventEnvelope {
  const event: AsanaEvent = {
    user: null,
    created_at: createdAt,
    action: 'changed',
    resource: {
      gid: resource.gid,
      resource_type: resourceType,
      ...(typeof resource.resource_subtype === 'string' ? { resource_subtype: resource.resource_subtype } : {}),
    },
    parent: null,
  };
  return { eventId: asanaEventId(event), source: 'resync', subscriptionId: null, deliveryId: null, receivedAt, event };
}

/** Repairs counted by cause. */
export function countByCause(repairs: readonly Repair[]): Record<RepairCause, number> {
  const counts: Record<RepairCause, number> = { missing: 0, stale: 0, vanished: 0 };
  for (const { cause } of repairs) counts[cause] += 1;
  return counts;
}

/** What a repair says Postgres was found behind Asana on (see `recordDivergences`). */
export function divergenceOf(repair: Repair, resourceGid: string): FoundDivergence {
  return {
    gid: repair.envelope.event.resource.gid,
    type: repair.envelope.event.resource.resource_type,
    resourceGid,
    cause: repair.cause,
    asanaVersion: repair.asanaVersion,
    projectedVersion: repair.projectedVersion,
  };
}
