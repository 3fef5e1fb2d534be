import { asanaEventId, type AsanaEvent } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';

/** A compact Asana event as a webhook delivers it (a task rename by a user), with overrides. */
export function asanaTaskEvent(overrides: Partial<AsanaEvent> = {}): AsanaEvent {
  return {
    user: { gid: '42', resource_type: 'user' },
    created_at: '2026-11-22T10:00:00.000Z',
    action: 'changed',
    resource: { gid: '1200', resource_type: 'task', resource_subtype: 'default_task' },
    parent: null,
    change: { field: 'name', action: 'changed' },
    ...overrides,
  };
}

/** The `asana.events` value of a webhook event on task `gid`, as ingest publishes it (keyed by `gid`). */
export function asanaTaskEventEnvelope(gid: string): AsanaEventEnvelope {
  const event = asanaTaskEvent({ resource: { gid, resource_type: 'task', resource_subtype: 'default_task' } });
  return {
    eventId: asanaEventId(event),
    source: 'webhook',
    subscriptionId: null,
    deliveryId: null,
    receivedAt: new Date().toISOString(),
    event,
  };
}
