import type { AsanaEvent, AsanaResource } from '@asana-stream/asana';

/** Where an event came from. Reconciliation will add `events-api` and `resync`. */
export type EventSource = 'webhook' | 'events-api' | 'resync';

/** Value of `asana.events` (key: `event.resource.gid`). */
export interface AsanaEventEnvelope {
  /** Content-derived id: a redelivered event keeps its id. */
  eventId: string;
  source: EventSource;
  /** Our subscription (webhook) id, when the source is a webhook. */
  subscriptionId: string | null;
  /** Content hash of the delivery the event came in. */
  deliveryId: string | null;
  receivedAt: string;
  event: AsanaEvent;
}

/**
 * A record of `asana.deliveries`: one delivery exactly as received, for audit and replay.
 * The Kafka message value is the raw body, byte for byte as Asana signed it (no envelope, no
 * encoding), so any body ingest accepts fits one message and a replay POSTs the value with its
 * `x-hook-signature`. What ingest knows about the delivery travels as Kafka headers, UTF-8 strings.
 */
export interface RawDeliveryRecord {
  /** The message key: our subscription id. */
  key: string;
  /** The message value: the raw body. */
  value: Buffer;
  headers: {
    subscriptionId: string;
    /** Content hash of the body (as in the events' envelopes). */
    deliveryId: string;
    /** ISO-8601. */
    receivedAt: string;
    /** Decimal: the events the delivery held (0 for a heartbeat). */
    eventCount: string;
    /** The headers Asana sent that are kept, under their lowercase HTTP names, when present. */
    'content-type'?: string;
    'user-agent'?: string;
    'x-hook-signature'?: string;
  };
}

/**
 * Value of `asana.state` (key: gid): the resource's current state, or a tombstone.
 * `version` orders states of one resource: `modified_at` (ms since epoch) where Asana has one,
 * else the time of the fetch. An older version never overwrites a newer one.
 */
export interface ResourceStateMessage {
  gid: string;
  type: string;
  version: number;
  /**
   * Which clock produced `version`: the resource's `modified_at`, the time of the fetch, or the
   * `created_at` of a `deleted` event that is newer than what the API still returned.
   */
  versionSource: 'modified_at' | 'fetched_at' | 'deleted_event';
  deleted: boolean;
  /** The resource as the API returned it; null for a tombstone. */
  state: AsanaResource | null;
  fetchedAt: string;
  /** Ids of the events this state answers. */
  causes: string[];
}

export type ChangeAction = 'created' | 'updated' | 'deleted' | 'undeleted';

/** One field's change in a change message. */
export interface FieldChange {
  from: unknown;
  to: unknown;
}

/** Value of `asana.changes.<type>` (key: gid): the change contract downstream teams rely on. */
export interface ResourceChangeMessage {
  /** Contract version of this message shape. */
  schema: 1;
  /** Outbox id: strictly increasing per gid in the order changes were applied. */
  changeId: string;
  gid: string;
  type: string;
  action: ChangeAction;
  version: number;
  changes: Record<string, FieldChange>;
  /** Current state after the change; null once deleted. */
  state: AsanaResource | null;
  causes: string[];
  occurredAt: string;
}
