import type { AsanaEvent } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import { classifyError, type AsanaStreamError } from '@asana-stream/errors';

/** Events of one resource answered by one fetch, in the order they came (offset order). */
export interface CoalescedFetch<T> {
  gid: string;
  type: string;
  /** The messages this fetch answers, in order. */
  items: T[];
}

/** One resource's work in a batch: its fetches, run one after another. */
export interface ResourceWork<T> {
  gid: string;
  /**
   * Almost always one fetch for all the gid's events. Asana's gids are unique across types, so a
   * second type under one gid is not expected; if it came, each run of one type gets its own
   * fetch, in order.
   */
  fetches: CoalescedFetch<T>[];
}

/**
 * Groups a partition's messages by resource: each gid's events become one fetch whose state
 * answers all of them, so a burst of N events for one task costs one request. Gids keep the order
 * of their first event; within a gid, events keep theirs. Nothing is dropped: every item lands in
 * exactly one fetch.
 */
export function coalesceByResource<T>(
  items: readonly T[],
  envelopeOf: (item: T) => AsanaEventEnvelope,
): ResourceWork<T>[] {
  const byGid = new Map<string, ResourceWork<T>>();
  for (const item of items) {
    const envelope = envelopeOf(item);
    const { gid, resource_type: type } = envelope.event.resource;
    let work = byGid.get(gid);
    if (work === undefined) {
      work = { gid, fetches: [] };
      byGid.set(gid, work);
    }
    let fetch = work.fetches.at(-1);
    if (fetch === undefined || fetch.type !== type) {
      fetch = { gid, type, items: [] };
      work.fetches.push(fetch);
    }
    fetch.items.push(item);
  }
  return [...byGid.values()];
}

/**
 * The `causes` of a state answering these events: their ids in order, each once (an event Asana
 * or a replay delivered twice has one id).
 */
export function causesOf(envelopes: readonly AsanaEventEnvelope[]): string[] {
  const seen = new Set<string>();
  const causes: string[] = [];
  for (const { eventId } of envelopes) {
    if (seen.has(eventId)) continue;
    seen.add(eventId);
    causes.push(eventId);
  }
  return causes;
}

/**
 * Asana's `created_at` of the earliest of the events, as ISO 8601: where the end-to-end freshness
 * of the state that answers them starts. Undefined when no event has a valid time.
 */
export function earliestEventAt(events: readonly AsanaEvent[]): string | undefined {
  let earliest = Infinity;
  for (const event of events) {
    const at = Date.parse(event.created_at);
    if (at < earliest) earliest = at;
  }
  return Number.isFinite(earliest) ? new Date(earliest).toISOString() : undefined;
}

/**
 * The event that decides a coalesced fetch's state (decideState): the `deleted` event with the
 * latest `created_at`, when there is one, since a delete is the only event whose own time counts
 * (the tombstone rule: the delete's time versions the tombstone, and a deleted event newer than
 * the state the API returns wins over it), and the latest delete dominates every earlier one;
 * otherwise the last event, whose action then plays no part.
 */
export function decidingEvent(events: readonly AsanaEvent[]): AsanaEvent {
  if (events.length === 0) throw new Error('a coalesced fetch answers at least one event');
  let latestDelete: AsanaEvent | undefined;
  let latestAt = -Infinity;
  for (const event of events) {
    if (event.action !== 'deleted') continue;
    const at = Date.parse(event.created_at);
    if (latestDelete === undefined || (Number.isFinite(at) && at >= latestAt)) {
      latestDelete = event;
      if (Number.isFinite(at)) latestAt = at;
    }
  }
  return latestDelete ?? events[events.length - 1];
}

const SEVERITY = { halt: 3, retry: 2, 'dead-letter': 1 } as const;

/**
 * What a batch with failed fetches reports to the consumer transport, which acts on one error per
 * batch: a halt over a retry over a dead-letter. A retry re-runs the batch (its handled messages
 * are skipped); a dead-letter makes the transport run the messages one at a time, so only the
 * failing gid's events are parked.
 */
export function worstFailure(errors: readonly unknown[]): AsanaStreamError | undefined {
  let worst: AsanaStreamError | undefined;
  for (const thrown of errors) {
    const error = classifyError(thrown);
    if (worst === undefined || SEVERITY[error.disposition] > SEVERITY[worst.disposition]) worst = error;
  }
  return worst;
}
