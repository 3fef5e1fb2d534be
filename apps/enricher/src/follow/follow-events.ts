import { asanaEventId, compactEvent, type AsanaEvent, type EventsAnswer } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { FoundDivergence } from '@asana-stream/db';
import type { ClaimedStream, EventStreamsRepository, PollProgress } from './event-streams.repository';

/** Pages one poll reads at most before it lets the stream go (and comes back at its next turn). */
export const MAX_PAGES_PER_POLL = 20;

export const FIRST_READ_REASON = "the first read of the resource's events: what happened before it is unknown";
export const EXPIRED_REASON = 'Asana no longer knows the sync token (412): events since the last read may be lost';

/** What one poll of a stream needs: Asana's Events API (paced), the table, and `asana.events`. */
export interface FollowDeps {
  readEvents(resource: string, sync: string | null, signal: AbortSignal): Promise<EventsAnswer>;
  streams: Pick<EventStreamsRepository, 'advance' | 'restart' | 'projectedVersions'>;
  /** Publishes envelopes to `asana.events` (keyed by their resource gid); resolves once Kafka has them. */
  publish(envelopes: AsanaEventEnvelope[]): Promise<void>;
  /** Records what the projection was found behind on (`recordDivergences`), before it is published. */
  recordDivergences(found: FoundDivergence[]): Promise<void>;
  now(): Date;
}

export type PollOutcome =
  /** Read up to the present (or the page cap) and saved the token. */
  | { kind: 'read'; pages: number; events: number; published: number; more: boolean }
  /** Asana gave a fresh token (first read, or the old one expired); a resync is asked for. */
  | { kind: 'restarted'; reason: string }
  /** Another replica holds the stream now: this one stopped, and its token was not saved. */
  | { kind: 'lease-lost' };

/**
 * One poll of a watched resource's events: pages from the saved token on, each page's events that
 * the projection does not reflect yet published to `asana.events` (source `events-api`, in the
 * webhooks' compact form, so ids match theirs) and only then the page's token saved. A crash
 * between the two reads the page again: its events are published twice at worst, and the enricher
 * and the projector's version guard make that harmless. A 412 starts over from Asana's fresh token
 * and asks for a resync, the only way to learn what happened before it.
 */
export async function pollStream(
  stream: Pick<ClaimedStream, 'resourceGid' | 'syncToken' | 'pollsFailed'>,
  holder: string,
  deps: FollowDeps,
  signal: AbortSignal,
): Promise<PollOutcome> {
  const { resourceGid } = stream;
  let token = stream.syncToken;
  let events = 0;
  let published = 0;
  for (let page = 1; ; page++) {
    const answer = await deps.readEvents(resourceGid, token, signal);
    if (answer.kind === 'expired') {
      const reason = token === null ? FIRST_READ_REASON : EXPIRED_REASON;
      return (await deps.streams.restart(resourceGid, holder, answer.sync, reason))
        ? { kind: 'restarted', reason }
        : { kind: 'lease-lost' };
    }
    const read = answer.events.map(compactEvent);
    const unreflected = await unreflectedEvents(read, deps);
    if (unreflected.length > 0) {
      const receivedAt = deps.now().toISOString();
      await deps.recordDivergences(unreflected.map(({ event, stored }) => divergenceOf(event, stored, resourceGid)));
      await deps.publish(unreflected.map(({ event }) => envelopeOf(event, receivedAt)));
    }
    const progress: PollProgress = {
      syncToken: answer.sync,
      eventsRead: read.length,
      eventsPublished: unreflected.length,
      lastEventAt: newestCreatedAt(read),
    };
    if (!(await deps.streams.advance(resourceGid, holder, progress))) return { kind: 'lease-lost' };
    token = answer.sync;
    events += read.length;
    published += unreflected.length;
    if (!answer.hasMore || page >= MAX_PAGES_PER_POLL || signal.aborted) {
      return { kind: 'read', pages: page, events, published, more: answer.hasMore };
    }
  }
}

/**
 * The events the projection does not reflect: those newer than the version it holds for their
 * resource (versions are `modified_at`, or the fetch time, in ms), or of a resource it lacks.
 * An event at or before the stored version changed nothing the projection misses, whether its
 * webhook delivery arrived or not.
 */
async function unreflectedEvents(
  events: AsanaEvent[],
  deps: FollowDeps,
): Promise<{ event: AsanaEvent; stored: number | undefined }[]> {
  if (events.length === 0) return [];
  const versions = await deps.streams.projectedVersions([...new Set(events.map((e) => e.resource.gid))]);
  return events
    .map((event) => ({ event, stored: versions.get(event.resource.gid) }))
    .filter(({ event, stored }) => {
      const at = Date.parse(event.created_at);
      return stored === undefined || !Number.isFinite(at) || stored < at;
    });
}

/** An event the projection does not reflect: Postgres is behind Asana on its resource until it does. */
function divergenceOf(event: AsanaEvent, stored: number | undefined, resourceGid: string): FoundDivergence {
  const at = Date.parse(event.created_at);
  return {
    gid: event.resource.gid,
    type: event.resource.resource_type,
    resourceGid,
    cause: 'event',
    asanaVersion: Number.isFinite(at) ? at : null,
    projectedVersion: stored ?? null,
  };
}

function envelopeOf(event: AsanaEvent, receivedAt: string): AsanaEventEnvelope {
  return {
    eventId: asanaEventId(event),
    source: 'events-api',
    subscriptionId: null,
    deliveryId: null,
    receivedAt,
    event,
  };
}

function newestCreatedAt(events: AsanaEvent[]): string | null {
  let newest: string | null = null;
  for (const { created_at } of events)
    if (newest === null || Date.parse(created_at) > Date.parse(newest)) newest = created_at;
  return newest;
}
