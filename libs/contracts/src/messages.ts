import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { AsanaEvent, AsanaResource } from '@asana-stream/asana';
import type {
  ASANA_EVENT_ENVELOPE_SCHEMA,
  RESOURCE_CHANGE_MESSAGE_SCHEMA,
  RESOURCE_STATE_MESSAGE_SCHEMA,
} from './validation/schemas';

/**
 * A published schema's TypeScript type, derived from the schema itself (json-schema-to-ts'
 * `FromSchema`), so the two cannot drift apart: the schema in `validation/schemas.ts` is the one
 * source of truth. Why derive the type from the schema rather than generate the schema from the
 * type: the schema says more than a type can (patterns, formats, the tombstone's `if`), it is what
 * readers in other languages get, and the existing validators already compile it; `FromSchema` is
 * type-only (no build step, nothing at run time) and its result is checked by the compiler at
 * every use. Two adjustments:
 * - Asana's own structures (`title: AsanaResource` / `AsanaEvent`: checked only as objects) are
 *   typed as libs/asana types them, since their shape is Asana's contract, not ours.
 * - The schemas are open (a new optional field is a compatible change), which `FromSchema` turns
 *   into an index signature. `Closed` drops it from the message itself, so a misspelt field does
 *   not compile and `Omit<Message, 'changeId'>` keeps the other fields.
 */
type MessageOf<Schema extends JSONSchema> = Closed<
  FromSchema<
    Schema,
    {
      deserialize: [
        { pattern: { title: 'AsanaResource' }; output: AsanaResource | null },
        { pattern: { title: 'AsanaEvent' }; output: AsanaEvent },
      ];
    }
  >
>;

type Closed<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };

/** Value of `asana.events` (key: `event.resource.gid`); schema `asana-event-envelope.v1.json`. */
export type AsanaEventEnvelope = MessageOf<typeof ASANA_EVENT_ENVELOPE_SCHEMA>;

/** Where an event came from. */
export type EventSource = AsanaEventEnvelope['source'];

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
 * Value of `asana.state` (key: gid): the resource's current state, or a tombstone; schema
 * `resource-state.v1.json`. `version` orders states of one resource: `modified_at` (ms since
 * epoch) where Asana has one, else the time of the fetch. An older version never overwrites a newer one.
 */
export type ResourceStateMessage = MessageOf<typeof RESOURCE_STATE_MESSAGE_SCHEMA>;

/**
 * Value of `asana.changes.<type>` (key: gid): the change contract downstream teams rely on;
 * schema `resource-change.v1.json`, rendered in docs/contracts.md.
 */
export type ResourceChangeMessage = MessageOf<typeof RESOURCE_CHANGE_MESSAGE_SCHEMA>;

export type ChangeAction = ResourceChangeMessage['action'];

/** One field's change in a change message: `{from, to}`. */
export type FieldChange = Closed<ResourceChangeMessage['changes'][string]>;
