/**
 * The JSON Schemas of the messages asana-stream reads off the wire or publishes: Asana's webhook
 * delivery and event (internal), and the values of `asana.events`, `asana.state` and
 * `asana.changes.<type>`, the three published to downstream teams (`../published`). They check
 * what readers rely on and let everything else through (no `additionalProperties: false`): Asana
 * adds fields, and a newer producer may add an optional one without breaking any reader.
 * `contract-validators.ts` compiles them once, with ajv; `../messages.ts` derives the TypeScript
 * types from the published ones, so a schema and its type cannot drift apart.
 *
 * Each published schema is written out as `libs/contracts/schemas/<name>.v<N>.json`
 * (`npm run contracts:write`); its `$id` carries its version. Changing one: see
 * `docs/contracts.md` (versioning) and `published-contracts.spec.ts`.
 */

/** JSON Schema draft-07: what ajv's default class speaks, and the dialect the published files declare. */
const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

/** A numeric string: Asana's gids. */
const GID = { type: 'string', pattern: '^\\d+$' } as const;
/** Any string with something besides whitespace. */
const NOT_BLANK = { type: 'string', pattern: '\\S' } as const;
/**
 * An RFC 3339 date-time with its offset (`2026-11-22T10:00:00.000Z`), the form Asana and
 * `toISOString` write: JSON Schema's own `date-time`, so readers' validators know it.
 */
const DATE_TIME = { type: 'string', format: 'date-time' } as const;
/** An object or null, never walked: Asana's own structures. */
const OBJECT_OR_NULL = { type: ['object', 'null'] } as const;

/** The `{gid, resource_type}` reference inside an Asana event (no `$id`: inlined where published). */
const RESOURCE_REF = {
  type: 'object',
  required: ['gid', 'resource_type'],
  properties: {
    gid: { ...GID, description: 'The resource’s Asana gid.' },
    resource_type: { type: 'string', description: 'Asana’s resource type: `task`, `project`, `story`, ...' },
  },
} as const;

/**
 * The parts of an Asana event asana-stream relies on. `change` and fields Asana adds later pass
 * unchecked: the event is forwarded as Asana sent it. Its `title` lets `messages.ts` type it as
 * libs/asana's `AsanaEvent`: Asana's own shape, which Asana documents, not ours.
 */
const ASANA_EVENT = {
  title: 'AsanaEvent',
  description: 'The Asana event as Asana sent it (compact: it names what changed, with no state).',
  type: 'object',
  required: ['action', 'created_at', 'resource'],
  properties: {
    action: { enum: ['changed', 'added', 'removed', 'deleted', 'undeleted'], description: 'Asana’s event action.' },
    created_at: { ...DATE_TIME, description: 'When the change happened, by Asana’s clock.' },
    resource: { ...RESOURCE_REF, description: 'The resource the event is about: the message key is its gid.' },
    parent: { ...OBJECT_OR_NULL, description: 'The parent Asana names for `added`/`removed`, or null.' },
    user: { ...OBJECT_OR_NULL, description: 'Who made the change; null for a change Asana made itself.' },
  },
} as const;

/** A `{gid, resource_type}` reference inside an Asana event. */
export const RESOURCE_REF_SCHEMA = { $id: 'asana-stream:ResourceRef', ...RESOURCE_REF } as const;

/** An Asana event, in a webhook delivery (ingest) and in `asana.events` (the enricher). */
export const ASANA_EVENT_SCHEMA = { $id: 'asana-stream:AsanaEvent', ...ASANA_EVENT } as const;

/** A webhook delivery's body: its events (none for a heartbeat). */
export const ASANA_DELIVERY_SCHEMA = {
  $id: 'asana-stream:AsanaDelivery',
  type: 'object',
  required: ['events'],
  properties: { events: { type: 'array', items: { $ref: 'asana-stream:AsanaEvent' } } },
} as const;

/** The value of `asana.events` (`AsanaEventEnvelope`), published as `asana-event-envelope.v1.json`. */
export const ASANA_EVENT_ENVELOPE_SCHEMA = {
  $schema: DRAFT_07,
  $id: 'urn:asana-stream:contract:asana-event-envelope:v1',
  title: 'AsanaEventEnvelope',
  description: 'One Asana event and where it came from: the value of `asana.events`.',
  type: 'object',
  required: ['eventId', 'source', 'receivedAt', 'event'],
  properties: {
    eventId: {
      ...NOT_BLANK,
      description:
        'Content-derived id (a hash of the event’s key-sorted JSON): a redelivered event, or the same event read from the Events API, keeps its id. Dedupe by it.',
    },
    source: {
      enum: ['webhook', 'events-api', 'resync'],
      description:
        'How it reached asana-stream: a webhook delivery, the Events API follower, or a resync’s correction.',
    },
    subscriptionId: {
      type: ['string', 'null'],
      description: 'Our subscription (webhook) id when the source is a webhook, else null.',
    },
    deliveryId: {
      type: ['string', 'null'],
      description: 'Content hash of the webhook delivery the event came in, else null.',
    },
    receivedAt: { ...DATE_TIME, description: 'When asana-stream received or read it.' },
    event: ASANA_EVENT,
  },
} as const;

/**
 * The value of `asana.state` (`ResourceStateMessage`), published as `resource-state.v1.json`.
 * `state` is Asana's resource as the API returned it: an object (null only for a tombstone),
 * never walked, because its fields are Asana's and the projector reads them defensively.
 */
export const RESOURCE_STATE_MESSAGE_SCHEMA = {
  $schema: DRAFT_07,
  $id: 'urn:asana-stream:contract:resource-state:v1',
  title: 'ResourceStateMessage',
  description:
    'A resource’s current state, or its tombstone: the value of `asana.state`, a compacted topic whose latest message per gid is the resource as last known.',
  type: 'object',
  required: ['gid', 'type', 'version', 'versionSource', 'deleted', 'state', 'fetchedAt', 'causes'],
  properties: {
    gid: { ...GID, description: 'The resource’s Asana gid (also the message key).' },
    type: { ...NOT_BLANK, description: 'Asana’s resource type (`task`, `project`, ...).' },
    version: {
      type: 'integer',
      minimum: 0,
      description:
        'Orders the states of one resource: `modified_at` in ms since the epoch where Asana has one, else the time of the fetch. An older version never overwrites a newer one.',
    },
    versionSource: {
      enum: ['modified_at', 'fetched_at', 'deleted_event'],
      description:
        'Which clock produced `version`: the resource’s `modified_at`, the fetch time, or the `created_at` of a `deleted` event newer than what the API returned.',
    },
    deleted: {
      type: 'boolean',
      description: 'True for a tombstone: Asana answered 404/403, or a newer `deleted` event.',
    },
    state: {
      ...OBJECT_OR_NULL,
      title: 'AsanaResource',
      description: 'The resource as Asana’s API returned it; null (or its last known state) for a tombstone.',
    },
    fetchedAt: { ...DATE_TIME, description: 'When the enricher fetched it.' },
    eventAt: {
      ...DATE_TIME,
      description:
        'Asana’s `created_at` of the earliest event this state answers (a repair’s: the time Asana last modified the resource): where end-to-end freshness starts. Absent in states published before it was added.',
    },
    causes: {
      type: 'array',
      items: { type: 'string' },
      description: 'The `eventId`s (of `asana.events`) this state answers.',
    },
  },
  // A live resource carries its state; only a tombstone may carry null.
  if: { properties: { deleted: { const: false } }, required: ['deleted'] },
  then: { properties: { state: { type: 'object' } } },
} as const;

/**
 * The value of `asana.changes.<type>` (`ResourceChangeMessage`), published as
 * `resource-change.v1.json`: the contract downstream teams build on. `schema` repeats the
 * version, so a reader can tell a message of another major version before reading the rest.
 */
export const RESOURCE_CHANGE_MESSAGE_SCHEMA = {
  $schema: DRAFT_07,
  $id: 'urn:asana-stream:contract:resource-change:v1',
  title: 'ResourceChangeMessage',
  description: 'One change of one Asana resource, in the order it was applied: the value of `asana.changes.<type>`.',
  type: 'object',
  required: ['schema', 'changeId', 'gid', 'type', 'action', 'version', 'changes', 'state', 'causes', 'occurredAt'],
  properties: {
    schema: { const: 1, description: 'The major version of this contract: 1 for every message of this schema.' },
    changeId: {
      type: 'string',
      pattern: '^\\d+$',
      description:
        'Stable id of the change (decimal; the outbox row id): a message published twice (the relay died between publish and commit) has the same id, so dedupe by it. Strictly increasing per gid in the order changes were applied.',
    },
    gid: { ...GID, description: 'The resource’s Asana gid (also the message key).' },
    type: {
      ...NOT_BLANK,
      description: 'Asana’s resource type (`task`, `project`, ...); `<type>` of the topic name, or `other`.',
    },
    action: {
      enum: ['created', 'updated', 'deleted', 'undeleted'],
      description:
        'What happened: first seen, fields changed, deleted (a tombstone), or a deleted resource came back. New values may be added (see versioning).',
    },
    version: {
      type: 'integer',
      minimum: 0,
      description:
        'The resource version this change brought (`modified_at` in ms, or the fetch time): grows with each change of a gid.',
    },
    changes: {
      type: 'object',
      description:
        'The top-level fields whose values differ from the previous state, as `{field: {from, to}}` (a field absent on one side is null there). `modified_at` is left out: it is the version. Empty when nothing visible changed (a delete).',
      additionalProperties: {
        type: 'object',
        description: 'One changed field, under its name.',
        required: ['from', 'to'],
        properties: {
          from: { description: 'The field’s value before the change (any JSON value; null if absent).' },
          to: { description: 'The field’s value after the change (any JSON value; null if absent).' },
        },
      },
    },
    state: {
      ...OBJECT_OR_NULL,
      title: 'AsanaResource',
      description:
        'The full current state after the change, as Asana’s API returned it (the fields asana-stream asks for); an object for every action but `deleted`, whose state is null or the last state known.',
    },
    causes: {
      type: 'array',
      items: { type: 'string' },
      description: 'The Asana event ids (`eventId` of `asana.events`) that led to this change.',
    },
    occurredAt: { ...DATE_TIME, description: 'When the change happened: `version` as an ISO 8601 time.' },
  },
  // Only a delete may leave the reader without the resource's state.
  if: { properties: { action: { enum: ['created', 'updated', 'undeleted'] } }, required: ['action'] },
  then: { properties: { state: { type: 'object' } } },
} as const;
