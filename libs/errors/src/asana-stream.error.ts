import { DECISIONS, dispositionOf, type Disposition, type ErrorCode } from './error-codes';

/** A value kept in logs: identifiers, numbers and names, never a body or a secret. */
export type ErrorDetailValue = string | number | boolean | null | readonly string[];
/** Fields that say more than the code (status, retryAfterMs, sqlState, kafkaType, ...), kept in logs. */
export type ErrorDetails = Readonly<Record<string, ErrorDetailValue | undefined>>;

export interface AsanaStreamErrorOptions {
  cause?: unknown;
  details?: ErrorDetails;
  /**
   * Overrides the decision table for this one error, between `retry` (true) and `dead-letter`
   * (false), when the thrower knows better than the code. A `halt` code stays `halt`: no flag
   * makes a refused credential worth retrying per message.
   */
  retriable?: boolean;
}

/** The log form of an error: what `toJSON` returns. */
export interface ErrorLog {
  name: string;
  code: ErrorCode;
  disposition: Disposition;
  retriable: boolean;
  message: string;
  details?: Record<string, ErrorDetailValue>;
  /** The chain of causes, outermost first: their names and codes, never their messages. */
  causes?: { name: string; code?: string | number }[];
}

const BRAND = Symbol.for('asana-stream.error');
const MAX_CAUSES = 5;

/**
 * The project's one error type: a stable `code` from `DECISIONS`, the `disposition` the code
 * (or the thrower) decides, `retriable` (true exactly when the disposition is `retry`), the
 * `cause`, and `details` kept in logs. Every failure a stage acts on is one of these, built by
 * the code that knows what went wrong or by `classifyError` from whatever was thrown.
 *
 * Its messages are ours: write them without secrets or message bodies, because `toJSON` logs them.
 */
export class AsanaStreamError extends Error {
  readonly code: ErrorCode;
  readonly disposition: Disposition;
  /** Whether trying again can help: `disposition === 'retry'`. Decide with `disposition`. */
  readonly retriable: boolean;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, { cause, details = {}, retriable }: AsanaStreamErrorOptions = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AsanaStreamError';
    this.code = code;
    const decided = dispositionOf(code);
    this.disposition = decided === 'halt' || retriable === undefined ? decided : retriable ? 'retry' : 'dead-letter';
    this.retriable = this.disposition === 'retry';
    this.details = Object.freeze(
      Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined)),
    );
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The log form: code, disposition, our message, details and the causes' names. No stack, no bodies. */
  toJSON(): ErrorLog {
    const log: ErrorLog = {
      name: this.name,
      code: this.code,
      disposition: this.disposition,
      retriable: this.retriable,
      message: this.message,
    };
    if (Object.keys(this.details).length > 0) log.details = { ...this.details } as Record<string, ErrorDetailValue>;
    const causes = causeChain(this.cause);
    if (causes.length > 0) log.causes = causes;
    return log;
  }
}

/** True for an AsanaStreamError, also one built by another copy of this library. Never throws. */
export function isAsanaStreamError(error: unknown): error is AsanaStreamError {
  try {
    return (
      error instanceof AsanaStreamError ||
      (typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true)
    );
  } catch {
    return false; // a Proxy that throws, or a revoked one
  }
}

/**
 * What a stage does with `error` once its retry budget for one message is spent: `halt` for a
 * failure that is surely not the message's (a dependency that stays down), `dead-letter` for
 * one that may be (UNKNOWN); errors that are not `retry` keep their disposition.
 */
export function dispositionAfterRetries(error: AsanaStreamError): 'dead-letter' | 'halt' {
  if (error.disposition !== 'retry') return error.disposition;
  const decision: { whenRetriesRunOut?: 'dead-letter' | 'halt' } = DECISIONS[error.code];
  // A code whose table disposition is not `retry` was made retriable by its thrower: the
  // thrower judged the message worth asking again, so when that fails it is the message's own.
  return decision.whenRetriesRunOut ?? 'dead-letter';
}

function causeChain(cause: unknown): { name: string; code?: string | number }[] {
  const chain: { name: string; code?: string | number }[] = [];
  const seen = new Set<unknown>();
  for (let current = cause; current !== undefined && current !== null && chain.length < MAX_CAUSES;) {
    if (seen.has(current)) break;
    seen.add(current);
    if (typeof current !== 'object') {
      chain.push({ name: typeof current });
      break;
    }
    const fields = current as { name?: unknown; code?: unknown; cause?: unknown; constructor?: { name?: unknown } };
    const name =
      typeof fields.name === 'string'
        ? fields.name
        : typeof fields.constructor?.name === 'string'
          ? fields.constructor.name
          : 'Object';
    const code = typeof fields.code === 'string' || typeof fields.code === 'number' ? fields.code : undefined;
    chain.push(code === undefined ? { name } : { name, code });
    current = fields.cause;
  }
  return chain;
}
