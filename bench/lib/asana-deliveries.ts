import { createHash } from 'node:crypto';
import type { Message } from 'kafkajs';
import { asanaEventId, signAsanaBody, ASANA_HOOK_SIGNATURE_HEADER, type AsanaEvent } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { LoadRequest } from './http-load';

/** A 16-digit task gid like Asana's, one per `n`: keys spread over every partition. */
export function benchGid(n: number): string {
  return String(1_200_000_000_000_000 + n);
}

const EPOCH = Date.UTC(2026, 10, 22, 10, 0, 0);

/**
 * The n-th event of a bench: a task renamed by a user, in the compact form Asana's webhooks
 * deliver (the shape of libs/testing's `asanaTaskEvent`).
 */
export function benchEvent(n: number): AsanaEvent {
  return {
    user: { gid: '42', resource_type: 'user' },
    created_at: new Date(EPOCH + n * 1000).toISOString(),
    action: 'changed',
    resource: { gid: benchGid(n), resource_type: 'task', resource_subtype: 'default_task' },
    parent: null,
    change: { field: 'name', action: 'changed' },
  };
}

/**
 * `count` deliveries of `eventsPerDelivery` events each, for one subscription, signed with its
 * secret exactly as Asana signs (lowercase hex HMAC-SHA256 of the raw body in `X-Hook-Signature`).
 * Every event is a different task, so the events spread over the partitions as real traffic does.
 */
export function signedDeliveries({
  subscriptionId,
  secret,
  count,
  eventsPerDelivery,
}: {
  subscriptionId: string;
  secret: string;
  count: number;
  eventsPerDelivery: number;
}): LoadRequest[] {
  return Array.from({ length: count }, (_, d) => {
    const events = Array.from({ length: eventsPerDelivery }, (_, e) => benchEvent(d * eventsPerDelivery + e));
    const body = Buffer.from(JSON.stringify({ events }));
    return {
      path: `/webhooks/asana/${subscriptionId}`,
      headers: { 'content-type': 'application/json', [ASANA_HOOK_SIGNATURE_HEADER]: signAsanaBody(secret, body) },
      body,
    };
  });
}

/**
 * The `asana.events` message ingest publishes for `event`: the same envelope, key and JSON, so
 * baselines move messages of the same size as ingest does. No headers: without an OTLP endpoint
 * (how the benchmarks run it) ingest's messages carry none.
 */
export function eventMessage(event: AsanaEvent, subscriptionId: string): Message {
  const envelope: AsanaEventEnvelope = {
    eventId: asanaEventId(event),
    source: 'webhook',
    subscriptionId,
    deliveryId: createHash('sha256').update(event.resource.gid).digest('hex').slice(0, 32),
    receivedAt: new Date().toISOString(),
    event,
  };
  return { key: event.resource.gid, value: JSON.stringify(envelope) };
}
