import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import {
  ASANA_DELIVERY_SCHEMA,
  ASANA_EVENT_ENVELOPE_SCHEMA,
  ASANA_EVENT_SCHEMA,
  RESOURCE_CHANGE_MESSAGE_SCHEMA,
  RESOURCE_REF_SCHEMA,
  RESOURCE_STATE_MESSAGE_SCHEMA,
} from './schemas';

/**
 * Checks a parsed value against one contract and says what is wrong with it: each problem as
 * `path: what it must be` (`event.resource.gid: must be a numeric string`), never quoting a value,
 * since the problems are logged, answered and written to dead-letter headers.
 */
export interface ContractValidator {
  /** The contract's name, as messages name it (`AsanaEventEnvelope`). */
  readonly name: string;
  /** Every problem of `value` (empty when it meets the contract). */
  problems(value: unknown): string[];
}

// Compiled once per process: ajv turns each schema into a function, so checking a message costs
// about as much as reading its fields (class-validator's decorators cost tens of microseconds per
// event on ingest's and every consumer's hot path).
const ajv = new Ajv({ allErrors: true, strict: true, schemas: [RESOURCE_REF_SCHEMA, ASANA_EVENT_SCHEMA] });
addFormats(ajv, ['date-time']);

/** What the patterns of the schemas mean, in words. */
const PATTERN_MEANING: Readonly<Record<string, string>> = {
  '^\\d+$': 'must be a numeric string',
  '\\S': 'must not be empty',
};

/**
 * `wording` words a constraint the generic text would leave unclear, by its schema path
 * (`#/then/properties/state/type`).
 */
function validator(name: string, schema: object, wording: Record<string, string> = {}): ContractValidator {
  const validate: ValidateFunction = ajv.compile(schema);
  return {
    name,
    problems: (value) => (validate(value) ? [] : (validate.errors ?? []).flatMap((e) => describe(e, wording))),
  };
}

/** One ajv error in words, or none for the `if` that only says its `then` failed. */
function describe(error: ErrorObject, wording: Record<string, string>): string[] {
  const path = error.instancePath.slice(1).replace(/\//g, '.').replace(/~1/g, '/').replace(/~0/g, '~');
  const at = (property: string) => (path ? `${path}.${property}` : property);
  const params = error.params as Record<string, unknown>;
  const worded = wording[error.schemaPath];
  if (worded !== undefined) return [`${path}: ${worded}`];
  switch (error.keyword) {
    case 'if':
      return [];
    case 'required':
      return [`${at(String(params.missingProperty))}: is required`];
    case 'type': {
      const types = Array.isArray(params.type) ? params.type : String(params.type).split(',');
      return [`${path || '(the value)'}: must be ${types.map(article).join(' or ')}`];
    }
    case 'enum':
      return [`${path}: must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`];
    case 'pattern':
      return [`${path}: ${PATTERN_MEANING[String(params.pattern)] ?? `must match ${String(params.pattern)}`}`];
    case 'format':
      return [`${path}: must be an ISO 8601 date-time`];
    default:
      return [`${path || '(the value)'}: ${error.message ?? `fails ${error.keyword}`}`];
  }
}

function article(type: unknown): string {
  const name = String(type);
  if (name === 'null') return 'null';
  return /^[aeiou]/.test(name) ? `an ${name}` : `a ${name}`;
}

/** A webhook delivery's body (ingest): `{ events: AsanaEvent[] }`. */
export const asanaDeliveryContract = validator('AsanaDelivery', ASANA_DELIVERY_SCHEMA);
/** The value of `asana.events`. */
export const asanaEventEnvelopeContract = validator('AsanaEventEnvelope', ASANA_EVENT_ENVELOPE_SCHEMA);
/** The value of `asana.state`. */
export const resourceStateMessageContract = validator('ResourceStateMessage', RESOURCE_STATE_MESSAGE_SCHEMA, {
  '#/then/properties/state/type': 'must be an object (null only for a tombstone)',
});
/**
 * The value of `asana.changes.<type>`. Nothing consumes it inside asana-stream: the producers'
 * tests check what they publish with it, and readers in TypeScript may use it.
 */
export const resourceChangeMessageContract = validator('ResourceChangeMessage', RESOURCE_CHANGE_MESSAGE_SCHEMA, {
  '#/then/properties/state/type': 'must be an object (null only for a delete)',
});
