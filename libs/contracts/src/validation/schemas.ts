/**
 * The JSON Schemas of the messages asana-stream reads off the wire: Asana's webhook delivery and
 * event, and the values of `asana.events` and `asana.state`. They check what the consumers rely on
 * and let everything else through (no `additionalProperties: false`): Asana adds fields, and a
 * newer producer may too. `contract-validators.ts` compiles them once, with ajv.
 */

/** A numeric string: Asana's gids. */
const GID = { type: 'string', pattern: '^\\d+$' } as const;
/** Any string with something besides whitespace. */
const NOT_BLANK = { type: 'string', pattern: '\\S' } as const;
/** An ISO 8601 date-time (`2026-11-22T10:00:00.000Z`), the form Asana and `toISOString` write. */
const DATE_TIME = { type: 'string', format: 'iso-date-time' } as const;
/** An object or null, never walked: Asana's own structures. */
const OBJECT_OR_NULL = { type: ['object', 'null'] } as const;

/** A `{gid, resource_type}` reference inside an Asana event. */
export const RESOURCE_REF_SCHEMA = {
  $id: 'asana-stream:ResourceRef',
  type: 'object',
  required: ['gid', 'resource_type'],
  properties: { gid: GID, resource_type: { type: 'string' } },
} as const;

/**
 * The parts of an Asana event asana-stream relies on, in a webhook delivery (ingest) and in
 * `asana.events` (the enricher). `change` and fields Asana adds later pass unchecked: the event
 * is forwarded as Asana sent it.
 */
export const ASANA_EVENT_SCHEMA = {
  $id: 'asana-stream:AsanaEvent',
  type: 'object',
  required: ['action', 'created_at', 'resource'],
  properties: {
    action: { enum: ['changed', 'added', 'removed', 'deleted', 'undeleted'] },
    created_at: DATE_TIME,
    resource: { $ref: 'asana-stream:ResourceRef' },
    parent: OBJECT_OR_NULL,
    user: OBJECT_OR_NULL,
  },
} as const;

/** A webhook delivery's body: its events (none for a heartbeat). */
export const ASANA_DELIVERY_SCHEMA = {
  $id: 'asana-stream:AsanaDelivery',
  type: 'object',
  required: ['events'],
  properties: { events: { type: 'array', items: { $ref: 'asana-stream:AsanaEvent' } } },
} as const;

/** The value of `asana.events` (`AsanaEventEnvelope`). */
export const ASANA_EVENT_ENVELOPE_SCHEMA = {
  $id: 'asana-stream:AsanaEventEnvelope',
  type: 'object',
  required: ['eventId', 'source', 'receivedAt', 'event'],
  properties: {
    eventId: NOT_BLANK,
    source: { enum: ['webhook', 'events-api', 'resync'] },
    subscriptionId: { type: ['string', 'null'] },
    deliveryId: { type: ['string', 'null'] },
    receivedAt: DATE_TIME,
    event: { $ref: 'asana-stream:AsanaEvent' },
  },
} as const;

/**
 * The value of `asana.state` (`ResourceStateMessage`). `state` is Asana's resource as the API
 * returned it: an object (null only for a tombstone), never walked, because its fields are
 * Asana's and the projector reads them defensively.
 */
export const RESOURCE_STATE_MESSAGE_SCHEMA = {
  $id: 'asana-stream:ResourceStateMessage',
  type: 'object',
  required: ['gid', 'type', 'version', 'versionSource', 'deleted', 'state', 'fetchedAt', 'causes'],
  properties: {
    gid: GID,
    type: NOT_BLANK,
    version: { type: 'integer', minimum: 0 },
    versionSource: { enum: ['modified_at', 'fetched_at', 'deleted_event'] },
    deleted: { type: 'boolean' },
    state: OBJECT_OR_NULL,
    fetchedAt: DATE_TIME,
    causes: { type: 'array', items: { type: 'string' } },
  },
  // A live resource carries its state; only a tombstone may carry null.
  if: { properties: { deleted: { const: false } }, required: ['deleted'] },
  then: { properties: { state: { type: 'object' } } },
} as const;
