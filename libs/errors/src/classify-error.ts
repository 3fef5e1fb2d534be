import { AsanaStreamError, isAsanaStreamError, type ErrorDetails } from './asana-stream.error';
import { dispositionOf, type ErrorCode } from './error-codes';
import { safeText } from './safe-text';

/**
 * Turns anything thrown into an AsanaStreamError; never throws. Stages call it once, where they
 * decide (a consumer's handler boundary, ingest's filter), and act on `disposition`.
 *
 * It recognises, by duck typing so that this library imports none of them:
 * - our own errors: returned as they are;
 * - kafkajs: by the protocol error's `type`, else by the class `name`, else by kafkajs' `retriable`;
 *   the wrappers (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError) by their cause;
 * - pg's DatabaseError by SQLSTATE, TypeORM's QueryFailedError by its `driverError`, and pg's
 *   connection failures, which carry no code, by their fixed messages;
 * - network failures by Node's or undici's `code`, and fetch's `TypeError('fetch failed')` by its cause;
 * - DOMException `TimeoutError` / `AbortError`;
 * - class-validator `ValidationError`s, a `SyntaxError` (JSON.parse, secure-json-parse), and the
 *   RangeError of a body nested too deep to walk: the message's own fault;
 * - anything else: UNKNOWN, retried a bounded number of times and then dead-lettered (it may be
 *   passing, which a retry cures, or one message breaking our code, which the dead-letter topic keeps).
 * The messages it writes take a third-party message only through `safeText`, and never the
 * message of a JSON or validation failure (it can quote the body).
 */
export function classifyError(error: unknown): AsanaStreamError {
  if (isAsanaStreamError(error)) return error;
  try {
    const { code, message, details, retriable } = verdictOf(error, 0);
    return new AsanaStreamError(code, message, { cause: error, details, retriable });
  } catch {
    // A getter that throws, a revoked proxy: nothing we can recognise.
    return new AsanaStreamError('UNKNOWN', 'a thrown value that could not be inspected', { cause: error });
  }
}

interface Verdict {
  code: ErrorCode;
  message: string;
  details?: ErrorDetails;
  retriable?: boolean;
}

interface ErrorFields {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  errors?: unknown;
  // kafkajs
  type?: unknown;
  retriable?: unknown;
  // pg DatabaseError
  severity?: unknown;
  constraint?: unknown;
  table?: unknown;
  column?: unknown;
  // TypeORM QueryFailedError
  driverError?: unknown;
  // class-validator ValidationError
  property?: unknown;
  constraints?: unknown;
  children?: unknown;
}

/** Wrappers nest rarely more than three deep; the bound keeps a cyclic cause chain finite. */
const MAX_DEPTH = 8;

function verdictOf(error: unknown, depth: number): Verdict {
  if (isAsanaStreamError(error)) {
    return { code: error.code, message: error.message, details: error.details, retriable: error.retriable };
  }
  if (error === null || typeof error !== 'object') return thrownValue(error);
  if (Array.isArray(error)) return validationVerdict(error) ?? unknownVerdict(error);
  const fields = error as ErrorFields;
  if (depth >= MAX_DEPTH) return unknownVerdict(fields);
  const name = text(fields.name);
  if (name.startsWith('KafkaJS')) return kafkaVerdict(fields, name, depth);
  if (name === 'QueryFailedError' && fields.driverError !== undefined) {
    return attribute(verdictOf(fields.driverError, depth + 1), 'DATABASE_UNAVAILABLE');
  }
  const sqlState = sqlStateOf(fields);
  if (sqlState) return postgresVerdict(sqlState, fields);
  if (isValidationError(fields)) return validationVerdict([fields]) ?? unknownVerdict(fields);
  if (name === 'TimeoutError') return { code: 'TIMEOUT', message: messageOf(fields, 'timed out') };
  if (name === 'AbortError') return { code: 'ABORTED', message: messageOf(fields, 'aborted') };
  const networkCode = networkCodeOf(fields);
  if (networkCode) return { code: 'UNAVAILABLE', message: messageOf(fields, networkCode), details: { networkCode } };
  if (PG_CONNECTION_FAILURES.has(text(fields.message))) {
    return { code: 'DATABASE_UNAVAILABLE', message: text(fields.message) };
  }
  if (name === 'TypeError' && FETCH_FAILURES.has(text(fields.message))) return fetchVerdict(fields, depth);
  if (name === 'SyntaxError') return jsonVerdict(fields);
  if (name === 'RangeError' && text(fields.message).includes('Maximum call stack size exceeded')) {
    return { code: 'INVALID_MESSAGE', message: 'the message is nested too deeply to process' };
  }
  if (Array.isArray(fields.errors) && fields.errors.length > 0) return aggregateVerdict(fields.errors, depth);
  if (fields.cause !== undefined && fields.cause !== error) {
    // An error we do not know that wraps one we do (`new Error('...', { cause })`): the cause decides.
    const inner = verdictOf(fields.cause, depth + 1);
    if (inner.code !== 'UNKNOWN') return inner;
  }
  return unknownVerdict(fields);
}

// ---- kafkajs --------------------------------------------------------------------------------

/** kafkajs protocol error types (`KafkaJSProtocolError.type`) decided here, not by kafkajs' `retriable`. */
const KAFKA_TYPE_GROUPS: [ErrorCode, string[]][] = [
  ['MESSAGE_TOO_LARGE', ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']],
  // CORRUPT_MESSAGE is retriable to kafkajs (a CRC error in transit), so it reaches us only after
  // kafkajs' own retries: by then it is the record.
  ['INVALID_MESSAGE', ['INVALID_RECORD', 'INVALID_TIMESTAMP', 'CORRUPT_MESSAGE']],
  [
    'PRODUCER_FENCED',
    [
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
      'DUPLICATE_SEQUENCE_NUMBER',
      'INVALID_PRODUCER_EPOCH',
      'UNKNOWN_PRODUCER_ID',
      'INVALID_PRODUCER_ID_MAPPING',
      'INVALID_TXN_STATE',
      'TRANSACTION_COORDINATOR_FENCED',
    ],
  ],
  // kafkajs calls ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID non-retriable: the member rejoins.
  [
    'KAFKA_REBALANCING',
    [
      'REBALANCE_IN_PROGRESS',
      'NOT_COORDINATOR_FOR_GROUP',
      'ILLEGAL_GENERATION',
      'UNKNOWN_MEMBER_ID',
      'MEMBER_ID_REQUIRED',
    ],
  ],
  [
    'UNAUTHORIZED',
    [
      'TOPIC_AUTHORIZATION_FAILED',
      'GROUP_AUTHORIZATION_FAILED',
      'CLUSTER_AUTHORIZATION_FAILED',
      'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
      'DELEGATION_TOKEN_AUTHORIZATION_FAILED',
      'DELEGATION_TOKEN_EXPIRED',
      'SASL_AUTHENTICATION_FAILED',
      'UNSUPPORTED_SASL_MECHANISM',
      'ILLEGAL_SASL_STATE',
    ],
  ],
  // Requests the broker refuses as malformed or unsupported: our code or our settings.
  [
    'INTERNAL',
    [
      'INVALID_REQUEST',
      'INVALID_REQUIRED_ACKS',
      'UNSUPPORTED_VERSION',
      'INVALID_TOPIC_EXCEPTION',
      'INVALID_CONFIG',
      'INVALID_FETCH_SIZE',
      'INVALID_GROUP_ID',
      'INVALID_SESSION_TIMEOUT',
      'INCONSISTENT_GROUP_PROTOCOL',
      'INVALID_COMMIT_OFFSET_SIZE',
      'OFFSET_METADATA_TOO_LARGE',
      'UNSUPPORTED_COMPRESSION_TYPE',
      'UNSUPPORTED_FOR_MESSAGE_FORMAT',
      'INVALID_PARTITIONS',
      'INVALID_REPLICATION_FACTOR',
      'INVALID_REPLICA_ASSIGNMENT',
      'POLICY_VIOLATION',
    ],
  ],
  // Two members claim the same group.instance.id: a deployment mistake.
  ['CONFIG_INVALID', ['FENCED_INSTANCE_ID']],
  // kafkajs calls it non-retriable; it is a broker that is down.
  ['KAFKA_UNAVAILABLE', ['BROKER_NOT_AVAILABLE']],
];
const KAFKA_TYPES: ReadonlyMap<string, ErrorCode> = new Map(
  KAFKA_TYPE_GROUPS.flatMap(([code, types]) => types.map((type): [string, ErrorCode] => [type, code])),
);

/** kafkajs error classes (by `name`) that carry no protocol type. */
const KAFKA_NAMES: Readonly<Record<string, ErrorCode>> = {
  KafkaJSConnectionError: 'KAFKA_UNAVAILABLE',
  KafkaJSConnectionClosedError: 'KAFKA_UNAVAILABLE',
  KafkaJSRequestTimeoutError: 'KAFKA_UNAVAILABLE',
  KafkaJSBrokerNotFound: 'KAFKA_UNAVAILABLE',
  KafkaJSNoBrokerAvailableError: 'KAFKA_UNAVAILABLE',
  KafkaJSMetadataNotLoaded: 'KAFKA_UNAVAILABLE',
  KafkaJSTopicMetadataNotLoaded: 'KAFKA_UNAVAILABLE',
  KafkaJSStaleTopicMetadataAssignment: 'KAFKA_UNAVAILABLE',
  KafkaJSGroupCoordinatorNotFound: 'KAFKA_UNAVAILABLE',
  KafkaJSTimeout: 'KAFKA_UNAVAILABLE',
  KafkaJSLockTimeout: 'KAFKA_UNAVAILABLE',
  KafkaJSNumberOfRetriesExceeded: 'KAFKA_UNAVAILABLE',
  KafkaJSSASLAuthenticationError: 'UNAUTHORIZED',
  KafkaJSServerDoesNotSupportApiKey: 'INTERNAL',
  KafkaJSNotImplemented: 'INTERNAL',
  KafkaJSInvariantViolation: 'INTERNAL',
  KafkaJSUnsupportedMagicByteInMessageSet: 'INTERNAL',
};

/** kafkajs wrappers whose cause is the real failure. */
const KAFKA_WRAPPERS = new Set(['KafkaJSNumberOfRetriesExceeded', 'KafkaJSNonRetriableError']);

function kafkaVerdict(fields: ErrorFields, name: string, depth: number): Verdict {
  const type = typeof fields.type === 'string' ? fields.type : undefined;
  const kafkaRetriable = typeof fields.retriable === 'boolean' ? fields.retriable : undefined;
  const details: ErrorDetails = { kafkaError: name, kafkaType: type, kafkaRetriable };
  const message = messageOf(fields, name);
  if (KAFKA_WRAPPERS.has(name) && fields.cause !== undefined && fields.cause !== fields) {
    const inner = attribute(verdictOf(fields.cause, depth + 1), 'KAFKA_UNAVAILABLE');
    if (inner.code !== 'UNKNOWN') return inner;
  }
  if (Array.isArray(fields.errors) && fields.errors.length > 0) return aggregateVerdict(fields.errors, depth);
  if (type !== undefined) {
    const code = KAFKA_TYPES.get(type) ?? (kafkaRetriable === true ? 'KAFKA_UNAVAILABLE' : 'UNKNOWN');
    return { code, message, details };
  }
  const networkCode = networkCodeOf(fields);
  const code = KAFKA_NAMES[name] ?? (kafkaRetriable === false ? 'UNKNOWN' : 'KAFKA_UNAVAILABLE');
  return { code, message, details: networkCode ? { ...details, networkCode } : details };
}

// ---- Postgres -------------------------------------------------------------------------------

/** pg's own connection failures, which carry no code (pg/lib/client.js, pg-pool/index.js). */
const PG_CONNECTION_FAILURES = new Set([
  'Connection terminated',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
]);

/** A pg DatabaseError (or an error copying its fields): a five-character SQLSTATE and a severity. */
function sqlStateOf(fields: ErrorFields): string | undefined {
  return typeof fields.code === 'string' && /^[0-9A-Z]{5}$/.test(fields.code) && typeof fields.severity === 'string'
    ? fields.code
    : undefined;
}

/** SQLSTATEs decided one by one, before their class (the first two characters) decides. */
const SQL_STATES: Readonly<Record<string, ErrorCode>> = {
  // A concurrent insert of the same key (two replicas holding a partition during a rebalance):
  // run again, the row exists and the insert becomes an update.
  '23505': 'DATABASE_CONFLICT',
  '40001': 'DATABASE_CONFLICT', // serialization_failure
  '40P01': 'DATABASE_CONFLICT', // deadlock_detected
  '55P03': 'DATABASE_CONFLICT', // lock_not_available
  '55006': 'DATABASE_CONFLICT', // object_in_use
  '40002': 'DATA_REJECTED', // transaction_integrity_constraint_violation
  '57014': 'TIMEOUT', // query_canceled: statement_timeout, or cancelled by an operator
  '3D000': 'DATABASE_NOT_READY', // invalid_catalog_name: the database does not exist
  '42501': 'UNAUTHORIZED', // insufficient_privilege
};

const SQL_CLASSES: Readonly<Record<string, ErrorCode>> = {
  '08': 'DATABASE_UNAVAILABLE', // connection exception
  '53': 'DATABASE_UNAVAILABLE', // insufficient resources: disk full, out of memory, too many connections
  '57': 'DATABASE_UNAVAILABLE', // operator intervention: admin/crash shutdown, cannot connect now
  '58': 'DATABASE_UNAVAILABLE', // system error: I/O
  '40': 'DATABASE_CONFLICT', // transaction rollback
  '22': 'DATA_REJECTED', // data exception: a value that does not fit its column
  '23': 'DATA_REJECTED', // integrity constraint violation: not null, foreign key, check
  '28': 'UNAUTHORIZED', // invalid authorization specification: the login is refused
  // Syntax error or access rule violation: SQL that does not fit the schema (an undefined table or
  // column) is a bug or a deployment mismatch that every message would hit.
  '42': 'INTERNAL',
  '0A': 'INTERNAL', // feature not supported
};

function postgresVerdict(sqlState: string, fields: ErrorFields): Verdict {
  const code = SQL_STATES[sqlState] ?? SQL_CLASSES[sqlState.slice(0, 2)] ?? 'UNKNOWN';
  const details: ErrorDetails = {
    sqlState,
    table: typeof fields.table === 'string' ? fields.table : undefined,
    column: typeof fields.column === 'string' ? fields.column : undefined,
    constraint: typeof fields.constraint === 'string' ? fields.constraint : undefined,
  };
  // A data exception quotes the value after a colon ('invalid input syntax for type bigint: "x"').
  const raw = text(fields.message);
  const message = code === 'DATA_REJECTED' ? raw.split(':', 1)[0] : raw;
  return { code, message: safeText(message) || `SQLSTATE ${sqlState}`, details };
}

// ---- network, fetch ---------------------------------------------------------------------------

/** Node's codes for a connection that failed or broke, and DNS failures. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTCONN',
  'EADDRNOTAVAIL',
]);

/** undici's codes for the same (UND_ERR_CONNECT_TIMEOUT, UND_ERR_SOCKET, ...), and its timeouts. */
const UNDICI_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

function networkCodeOf(fields: ErrorFields): string | undefined {
  return typeof fields.code === 'string' && (NETWORK_CODES.has(fields.code) || UNDICI_CODES.has(fields.code))
    ? fields.code
    : undefined;
}

/** undici's TypeErrors: `fetch failed` (the request) and `terminated` (the body, mid-read). */
const FETCH_FAILURES = new Set(['fetch failed', 'terminated']);

function fetchVerdict(fields: ErrorFields, depth: number): Verdict {
  const outer = text(fields.message);
  const inner = fields.cause === undefined ? undefined : verdictOf(fields.cause, depth + 1);
  if (inner && inner.code !== 'UNKNOWN') return { ...inner, message: `${outer}: ${inner.message}` };
  // fetch rejects with this TypeError only when the network failed, whatever the cause says.
  const cause = inner ? `: ${inner.message}` : '';
  return { code: 'UNAVAILABLE', message: `${outer}${cause}` };
}

/** A generic network verdict found inside a dependency's own error is that dependency's. */
function attribute(verdict: Verdict, code: 'KAFKA_UNAVAILABLE' | 'DATABASE_UNAVAILABLE'): Verdict {
  return verdict.code === 'UNAVAILABLE' || verdict.code === 'TIMEOUT' ? { ...verdict, code } : verdict;
}

// ---- the message's own faults -----------------------------------------------------------------

function isValidationError(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || value instanceof Error) return false;
  const fields = value as ErrorFields;
  return (
    typeof fields.property === 'string' &&
    ((typeof fields.constraints === 'object' && fields.constraints !== null) || Array.isArray(fields.children))
  );
}

/** class-validator's result: each failed constraint as `path: message`, at most five. */
function validationVerdict(errors: unknown[]): Verdict | undefined {
  if (errors.length === 0 || !errors.every(isValidationError)) return undefined;
  const found = errors as ErrorFields[];
  const problems: string[] = [];
  const properties: string[] = [];
  const walk = (error: ErrorFields, path: string) => {
    const here = path ? `${path}.${text(error.property)}` : text(error.property);
    const constraints = Object.values((error.constraints ?? {}) as Record<string, unknown>);
    if (constraints.length > 0) properties.push(here);
    for (const constraint of constraints) problems.push(`${here}: ${text(constraint)}`);
    const children = Array.isArray(error.children) ? (error.children.filter(isValidationError) as ErrorFields[]) : [];
    for (const child of children) walk(child, here);
  };
  for (const error of found) walk(error, '');
  const shown = problems.slice(0, 5).map(safeText).join('; ');
  return {
    code: 'INVALID_MESSAGE',
    message: `the message is invalid: ${shown}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`,
    details: { properties: [...new Set(properties)].slice(0, 20) },
  };
}

/** JSON.parse quotes the text it choked on; keep only where, or secure-json-parse's own reason. */
function jsonVerdict(fields: ErrorFields): Verdict {
  const raw = text(fields.message);
  const reason = /forbidden (?:prototype|constructor) property/.exec(raw)?.[0] ?? /at position \d+/.exec(raw)?.[0];
  return { code: 'INVALID_MESSAGE', message: `the message is not acceptable JSON${reason ? ` (${reason})` : ''}` };
}

// ---- everything else --------------------------------------------------------------------------

const SEVERITY: Record<string, number> = { halt: 3, 'dead-letter': 2, retry: 1 };

/** Several failures at once (AggregateError, KafkaJSAggregateError): the gravest decides. */
function aggregateVerdict(errors: unknown[], depth: number): Verdict {
  const verdicts = errors.slice(0, 10).map((error) => verdictOf(error, depth + 1));
  const rank = (verdict: Verdict) => {
    if (verdict.code === 'UNKNOWN') return 0;
    const decided = dispositionOf(verdict.code);
    const disposition =
      decided === 'halt' || verdict.retriable === undefined ? decided : verdict.retriable ? 'retry' : 'dead-letter';
    return SEVERITY[disposition];
  };
  return verdicts.reduce((worst, verdict) => (rank(verdict) > rank(worst) ? verdict : worst));
}

function thrownValue(value: unknown): Verdict {
  const shown = typeof value === 'string' ? `: ${safeText(value)}` : '';
  return { code: 'UNKNOWN', message: `a ${value === null ? 'null' : typeof value} was thrown${shown}` };
}

function unknownVerdict(value: ErrorFields | unknown[]): Verdict {
  if (Array.isArray(value)) return { code: 'UNKNOWN', message: `an array of ${value.length} was thrown` };
  const name = text(value.name) || 'Error';
  return { code: 'UNKNOWN', message: `${name}: ${messageOf(value, 'no message')}` };
}

function messageOf(fields: ErrorFields, fallback: string): string {
  return safeText(text(fields.message)) || fallback;
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
