import { asanaEventId, type AsanaEvent } from '@asana-stream/asana';
import { asanaTaskEvent, seededInts } from '@asana-stream/testing';
import { decodeMessage } from './decode-message';
import { eventEnvelopeMessages, type EnvelopeOrigin } from './event-envelope-json';
import type { AsanaEventEnvelope } from './messages';
import { TOPICS } from './topology';

const webhook: EnvelopeOrigin = {
  source: 'webhook',
  subscriptionId: 'b001a57b-e055-44db-b50e-6236a5bdba72',
  deliveryId: '0123456789abcdef0123456789abcdef',
  receivedAt: '2026-12-03T10:00:00.000Z',
};

/** The envelope's JSON as `JSON.stringify` writes it, with the event's keys sorted. */
function stringifiedWithSortedEvent(origin: EnvelopeOrigin, event: AsanaEvent): string {
  const envelope = { eventId: asanaEventId(event), ...origin, event: sortKeys(event) };
  return JSON.stringify(envelope);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, field]) => [key, sortKeys(field)]));
}

const NAMES = ['Plan', 'Zoë "Q" \u2028 <x>', 'back\\slash', 'tab\tand\nnewline', '💡 idea', ''];
const FIELDS = ['name', 'assignee', 'completed', 'notes', 'due_on'];

/** Events of every shape a delivery has: with and without a parent, a user, a new value (escapes in it). */
function randomEvents(count: number, seed: number): AsanaEvent[] {
  const next = seededInts(seed);
  return Array.from({ length: count }, (_, n) =>
    asanaTaskEvent({
      resource: { gid: String(1_200_000_000_000_000 + next(1_000_000)), resource_type: 'task' },
      created_at: new Date(Date.UTC(2026, 10, 22) + next(10_000_000)).toISOString(),
      action: (['changed', 'added', 'removed', 'deleted', 'undeleted'] as const)[next(5)],
      user: next(4) === 0 ? null : { gid: String(next(1000)), resource_type: 'user' },
      parent: next(2) === 0 ? null : { gid: String(next(1000)), resource_type: 'project', name: NAMES[next(6)] },
      change:
        next(3) === 0
          ? undefined
          : {
              field: FIELDS[next(FIELDS.length)],
              action: 'changed',
              ...(next(2) === 0
                ? {}
                : { new_value: { gid: String(next(99)), resource_type: 'user', name: NAMES[next(6)] } }),
            },
      ...(n % 7 === 0 ? { type: 'task' } : {}),
    } as Partial<AsanaEvent>),
  );
}

describe('eventEnvelopeMessages', () => {
  it('writes each envelope as JSON.stringify does, with the event key-sorted, over 2,000 random events', () => {
    const events = randomEvents(2000, 7);
    const messages = eventEnvelopeMessages(webhook, events);
    expect(messages).toHaveLength(events.length);
    messages.forEach((message, i) => {
      expect(message.value).toBe(stringifiedWithSortedEvent(webhook, events[i]));
    });
  });

  it('keys each message by its event resource gid, in the order given', () => {
    const events = randomEvents(50, 11);
    expect(eventEnvelopeMessages(webhook, events).map((m) => m.key)).toEqual(events.map((e) => e.resource.gid));
  });

  it.each<[string, EnvelopeOrigin]>([
    ['a webhook delivery', webhook],
    [
      'the Events API follower',
      { source: 'events-api', subscriptionId: null, deliveryId: null, receivedAt: '2026-12-03T10:00:00.000Z' },
    ],
    ['an origin without the optional ids', { source: 'resync', receivedAt: '2026-12-03T10:00:00.000Z' }],
  ])('gives, from %s, envelopes that decode as the asana.events contract to the envelope', (_label, origin) => {
    const events = randomEvents(200, 3);
    for (const [i, message] of eventEnvelopeMessages(origin, events).entries()) {
      const decoded = decodeMessage(TOPICS.events.name, Buffer.from(message.value)) as AsanaEventEnvelope;
      expect(decoded).toEqual({ eventId: asanaEventId(events[i]), ...origin, event: events[i] });
    }
  });

  it('escapes what the origin holds that JSON must escape', () => {
    const origin = { ...webhook, subscriptionId: 'a "quoted" \\ id' };
    const [message] = eventEnvelopeMessages(origin, [asanaTaskEvent()]);
    expect((JSON.parse(message.value) as AsanaEventEnvelope).subscriptionId).toBe('a "quoted" \\ id');
  });

  it('gives no message for no events', () => {
    expect(eventEnvelopeMessages(webhook, [])).toEqual([]);
  });
});
