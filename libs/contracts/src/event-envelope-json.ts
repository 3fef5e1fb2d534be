import { canonicalAsanaEvent, type AsanaEvent } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from './messages';

/** What the events of one delivery share: their envelope but the id and the event. */
export type EnvelopeOrigin = Omit<AsanaEventEnvelope, 'eventId' | 'event'>;

/** The fields `eventEnvelopeMessages` writes, which must be all an envelope has. */
type WrittenField = 'eventId' | 'source' | 'subscriptionId' | 'deliveryId' | 'receivedAt' | 'event';
/** An origin, as long as `WrittenField` names every field of the envelope: a field added to the contract fails to compile here. */
type EveryFieldWritten<T> = [Exclude<keyof AsanaEventEnvelope, WrittenField>] extends [never] ? T : never;

/** An `asana.events` message: keyed by the event's resource gid, its value the envelope's JSON. */
export interface EventEnvelopeMessage {
  key: string;
  value: string;
}

/**
 * The `asana.events` messages of events with one origin, in their order. Each event is serialised
 * once, key-sorted (`canonicalAsanaEvent`): that text gives the event its id and is the envelope's
 * `event`, so the value is `JSON.stringify` of the envelope (fields in the contract's order) with
 * the event's keys sorted. An event costs one serialisation instead of two.
 */
export function eventEnvelopeMessages(
  origin: EveryFieldWritten<EnvelopeOrigin>,
  events: readonly AsanaEvent[],
): EventEnvelopeMessage[] {
  const { source, subscriptionId, deliveryId, receivedAt } = origin;
  const shared = JSON.stringify({ source, subscriptionId, deliveryId, receivedAt }).slice(1, -1);
  return events.map((event) => {
    const { eventId, json } = canonicalAsanaEvent(event);
    // The id is 32 hex digits: nothing in it needs escaping.
    return { key: event.resource.gid, value: `{"eventId":"${eventId}",${shared},"event":${json}}` };
  });
}
