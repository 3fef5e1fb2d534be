import type { AsanaPage, AsanaResource } from '@asana-stream/asana';
import type { ClaimedResync, ResyncRepository } from './resync.repository';
import { countByCause, repairsForListing, type ProjectedVersions, type Repair, type RepairCause } from './resync-plan';

/** One paged listing of a resource's contents (a project's tasks, a task's subtasks, …). */
export interface ResyncListing {
  /** Names the listing in the saved place of a run (see `encodeCursor`): letters only. */
  name: string;
  /** The type of the resources it lists: the type of their repair events. */
  type: string;
  /**
   * Whether the listed resources carry Asana's `modified_at`: then a listed one the projection
   * holds at an older version is `stale`; without it (stories) only a `missing` one is repaired,
   * since the projection's version of it is our fetch time, not Asana's.
   */
  versioned: boolean;
  list(offset: string | null, signal: AbortSignal): Promise<AsanaPage>;
}

/** How one watched resource of a given type is resynced: what is read, in order, and what vanished. */
export interface ResyncPlan {
  /**
   * The resource itself, fetched and compared first (its type and its fetch: null when Asana no
   * longer shows it); absent when it has nothing to compare (a workspace has no `modified_at`).
   */
  self?: { type: string; fetch(signal: AbortSignal): Promise<AsanaResource | null> };
  /** Listed one after another, page by page; at least one. */
  listings: readonly ResyncListing[];
  /** Once everything is listed: the projection's contents of the resource that were not listed. */
  vanished(receivedAt: string): Promise<Repair[]>;
  /** When Asana no longer shows the resource itself: its own tombstone and its contents'. */
  gone(receivedAt: string): Promise<Repair[]>;
}

/** What every resync shares: the projection's versions, its table, the repair path, the clock. */
export interface ResyncRunDeps {
  projectedVersions(gids: readonly string[]): Promise<ProjectedVersions>;
  repository: Pick<ResyncRepository, 'startListing' | 'savePage' | 'finish'>;
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

/** Where a run is: which listing, and the offset of its next page (null: its first page). */
export interface ResyncCursor {
  listing: number;
  offset: string | null;
}

/**
 * The saved form of a run's place (`event_streams.resync_offset`): the first listing's offset
 * bare (so a project's saved place reads as it always did), a later listing's as
 * `<name>:<offset>` (`<name>:` for its first page). Null once the last listing is done.
 */
export function encodeCursor(listings: readonly ResyncListing[], cursor: ResyncCursor | null): string | null {
  if (cursor === null) return null;
  if (cursor.listing === 0) return cursor.offset;
  return `${listings[cursor.listing].name}:${cursor.offset ?? ''}`;
}

/**
 * Reads a saved place back: null when the listing is done (pages saved, no offset); the first
 * listing's first page for a fresh run; a bare offset is the first listing's.
 */
export function decodeCursor(
  listings: readonly ResyncListing[],
  pages: number,
  saved: string | null,
): ResyncCursor | null {
  if (saved === null) return pages === 0 ? { listing: 0, offset: null } : null;
  for (let index = 1; index < listings.length; index += 1) {
    const prefix = `${listings[index].name}:`;
    if (saved.startsWith(prefix)) return { listing: index, offset: saved.slice(prefix.length) || null };
  }
  return { listing: 0, offset: saved };
}

/** The place after a page of `cursor`'s listing whose next offset is `nextOffset`. */
export function nextCursor(
  listings: readonly ResyncListing[],
  cursor: ResyncCursor,
  nextOffset: string | null,
): ResyncCursor | null {
  if (nextOffset !== null) return { listing: cursor.listing, offset: nextOffset };
  return cursor.listing + 1 < listings.length ? { listing: cursor.listing + 1, offset: null } : null;
}

/**
 * One run of a resync by `plan` (issue: Asana's webhooks and Events API are at most once): the
 * resource itself, then each listing page by page, every listed resource compared with the
 * projection's version; every correction is a `changed` event of the resource on `asana.events`
 * (source `resync`), published before the page is saved, so a crash resumes at the page after
 * the last one saved and repeats at most one page's corrections (harmless: the projector's
 * version guard). Once listed, the plan's vanished are corrected too (their fetch gives a
 * tombstone or their new state). A resource Asana no longer shows takes its contents with it.
 */
export async function runResync(
  claim: ClaimedResync,
  holder: string,
  plan: ResyncPlan,
  deps: ResyncRunDeps,
  signal: AbortSignal,
): Promise<ResyncOutcome> {
  const gid = claim.resourceGid;
  const receivedAt = () => deps.now().toISOString();
  const totals: Record<RepairCause, number> = { missing: 0, stale: 0, vanished: 0 };
  let pages = claim.pages;
  let checked = claim.checked;
  let cursor = decodeCursor(plan.listings, claim.pages, claim.offset);
  let carried: Record<RepairCause, number> = { missing: 0, stale: 0, vanished: 0 };

  const publish = async (repairs: Repair[]) => {
    if (repairs.length > 0) await deps.repair(repairs);
    const counts = countByCause(repairs);
    for (const cause of Object.keys(counts) as RepairCause[]) totals[cause] += counts[cause];
    return counts;
  };
  const finish = async (vanished: number, resourceGone: boolean): Promise<ResyncOutcome> => {
    if (!(await deps.repository.finish(gid, holder, vanished, deps.fullIntervalMs))) return { kind: 'lease-lost' };
    return { kind: 'done', pages, checked, repairs: totals, resourceGone };
  };

  if (pages === 0 && claim.offset === null) {
    await deps.repository.startListing(gid);
    if (plan.self) {
      const self = await plan.self.fetch(signal);
      if (self === null) {
        const gone = await plan.gone(receivedAt());
        await publish(gone);
        return finish(gone.length, true);
      }
      carried = await publish(
        repairsForListing([self], plan.self.type, await deps.projectedVersions([gid]), receivedAt()),
      );
    }
  }

  // pages > 0 with no offset: the listing was done before a crash; only the vanished remain.
  while (cursor !== null) {
    if (signal.aborted) return { kind: 'interrupted' };
    const listing = plan.listings[cursor.listing];
    const page = await listing.list(cursor.offset, signal);
    const versions = await deps.projectedVersions(page.data.map((resource) => resource.gid));
    const counts = await publish(
      repairsForListing(page.data, listing.type, versions, receivedAt(), { versioned: listing.versioned }),
    );
    const repairs = { missing: counts.missing + carried.missing, stale: counts.stale + carried.stale, vanished: 0 };
    const listed = page.data.map((resource) => resource.gid);
    const next = nextCursor(plan.listings, cursor, page.nextOffset);
    const nextOffset = encodeCursor(plan.listings, next);
    if (!(await deps.repository.savePage(gid, holder, { listed, nextOffset, repairs }, deps.leaseMs))) {
      return { kind: 'lease-lost' };
    }
    carried = { missing: 0, stale: 0, vanished: 0 };
    pages += 1;
    checked += listed.length;
    cursor = next;
    deps.onProgress?.({ pages, checked, repairs: { ...totals } });
  }

  if (signal.aborted) return { kind: 'interrupted' };
  const vanished = await plan.vanished(receivedAt());
  await publish(vanished);
  return finish(vanished.length, false);
}
