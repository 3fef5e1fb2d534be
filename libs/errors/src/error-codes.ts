/**
 * What a stage does with a failure; the one decision `classifyError` exists for.
 * - `retry`: the message is not at fault (a dependency is down, slow or busy). Leave it
 *   uncommitted and try it again after a backoff.
 * - `dead-letter`: the message is at fault; trying it again cannot help. A consumer publishes
 *   it to its dead-letter topic and commits; ingest answers 4xx.
 * - `halt`: no message can succeed until someone acts (a credential, the configuration, the
 *   schema, a fenced producer). Never dead-letter: stop consuming, leave the message
 *   uncommitted and report unready.
 */
export type Disposition = 'retry' | 'dead-letter' | 'halt';

interface Decision {
  readonly disposition: Disposition;
  /**
   * For `retry` codes: what the stage does once its retry budget for one message runs out.
   * `halt` when the message is surely not at fault (a dependency that stays down must not
   * empty the topic into the dead-letter topic); `dead-letter` when it may be (UNKNOWN).
   */
  readonly whenRetriesRunOut?: 'dead-letter' | 'halt';
}

const RETRY: Decision = { disposition: 'retry', whenRetriesRunOut: 'halt' };
const DEAD_LETTER: Decision = { disposition: 'dead-letter' };
const HALT: Decision = { disposition: 'halt' };

/**
 * Every error code of the project, one line each, with its decision. Other codes are not
 * allowed: a new failure either fits one of these or gets a line here.
 */
export const DECISIONS = {
  // retry: the message is not at fault
  /** A server we call does not answer usably: Asana 5xx, a refused/reset/timed-out connection, DNS. */
  UNAVAILABLE: RETRY,
  /** Asana answered 429; `retryAfterMs` says how long when it sent a usable Retry-After. */
  RATE_LIMITED: RETRY,
  /** Asana answered with a body that is not its JSON (a proxy's page, a cut body). */
  MALFORMED_RESPONSE: RETRY,
  /** An operation ran out of time: an AbortSignal timeout, a Postgres statement timeout (57014). */
  TIMEOUT: RETRY,
  /** The operation was cancelled (an AbortError: shutdown or a caller's signal). */
  ABORTED: RETRY,
  /** No broker answers, a leader is moving, a request timed out, too few in-sync replicas. */
  KAFKA_UNAVAILABLE: RETRY,
  /** The consumer group is rebalancing: the partition may move to another member. */
  KAFKA_REBALANCING: RETRY,
  /** Postgres lost or refuses connections, shuts down or ran out of resources (SQLSTATE 08, 53, 57P, 58). */
  DATABASE_UNAVAILABLE: RETRY,
  /** Serialization failure, deadlock, lock timeout, or a concurrent insert of the same key (40001, 40P01, 55P03, 23505). */
  DATABASE_CONFLICT: RETRY,
  /** Nothing recognised it: retried, but it may be the message's fault, so dead-lettered when retries run out. */
  UNKNOWN: { disposition: 'retry', whenRetriesRunOut: 'dead-letter' },

  // dead-letter: the message is at fault
  /** Undecodable or invalid input: not JSON, fails validation, nested too deep, a record Kafka refuses as invalid. */
  INVALID_MESSAGE: DEAD_LETTER,
  /** Kafka refuses the record or the batch as larger than it accepts. */
  MESSAGE_TOO_LARGE: DEAD_LETTER,
  /** Postgres refuses the message's values (SQLSTATE 22 data exception, 23 integrity violation but 23505). */
  DATA_REJECTED: DEAD_LETTER,
  /** Asana 404, or 403 for an object we may no longer see (the enricher makes it a tombstone). */
  NOT_VISIBLE: DEAD_LETTER,
  /** Asana refused the request itself (400, 402, 451, other 4xx) or we have no endpoint for it. */
  REJECTED: DEAD_LETTER,
  /** ingest: no subscription with a completed handshake has this id (404). */
  UNKNOWN_SUBSCRIPTION: DEAD_LETTER,
  /** ingest: an X-Hook-Secret for a subscription that is not waiting for a handshake (403). */
  HANDSHAKE_NOT_EXPECTED: DEAD_LETTER,
  /** ingest: X-Hook-Signature does not match the body (401). */
  BAD_SIGNATURE: DEAD_LETTER,
  /** ingest: the body is not an acceptable Asana delivery (400). */
  MALFORMED_DELIVERY: DEAD_LETTER,

  // halt: no message can succeed until someone acts
  /** A credential of ours is refused: Asana 401, Postgres SQLSTATE 28 or 42501, Kafka SASL or ACLs. */
  UNAUTHORIZED: HALT,
  /** The environment does not describe a runnable app (ConfigError), or Kafka says two members share an identity. */
  CONFIG_INVALID: HALT,
  /** The database is missing or its schema is not current (DatabaseNotReadyError, SQLSTATE 3D000). */
  DATABASE_NOT_READY: HALT,
  /** At startup, Postgres or Kafka never answered within the startup wait: the process exits. */
  DEPENDENCY_UNAVAILABLE: HALT,
  /** The idempotent producer lost its sequence or epoch (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID, ...): replace it. */
  PRODUCER_FENCED: HALT,
  /** Our code and what it runs against disagree: SQL that does not fit (SQLSTATE 42, 0A), a Kafka request the broker refuses as invalid. */
  INTERNAL: HALT,
} as const satisfies Record<string, Decision>;

/** The project's error codes: the keys of `DECISIONS`. */
export type ErrorCode = keyof typeof DECISIONS;

export const ERROR_CODES = Object.keys(DECISIONS) as ErrorCode[];

/** The disposition the decision table gives `code`. */
export function dispositionOf(code: ErrorCode): Disposition {
  return DECISIONS[code].disposition;
}
