import { AsanaStreamError, type ErrorCode } from '@asana-stream/errors';

/**
 * Codes of failures talking to Asana's API, a part of the project's list (`@asana-stream/errors`,
 * which decides each one's disposition):
 * - NOT_VISIBLE (dead-letter): 404, or 403 for an object we may no longer see: treated as deleted
 * - RATE_LIMITED (retry): 429
 * - UNAUTHORIZED (halt): 401, the token is wrong or expired: no request can succeed
 * - REJECTED (dead-letter): other 4xx, the request itself is wrong
 * - UNAVAILABLE (retry): 5xx, timeouts, connection failures
 * - MALFORMED_RESPONSE (retry): a body that is not Asana's JSON
 */
export type AsanaApiErrorCode = Extract<
  ErrorCode,
  'NOT_VISIBLE' | 'RATE_LIMITED' | 'UNAUTHORIZED' | 'REJECTED' | 'UNAVAILABLE' | 'MALFORMED_RESPONSE'
>;

export class AsanaApiError extends AsanaStreamError {
  declare readonly code: AsanaApiErrorCode;

  /**
   * `retriable` overrides the code's disposition between retry and dead-letter when the caller
   * knows better (a webhook created without its secret is not worth asking for again); it
   * defaults to the code's own, and cannot make UNAUTHORIZED retriable.
   */
  constructor(
    code: AsanaApiErrorCode,
    message: string,
    readonly status: number | null,
    retriable?: boolean,
    /** From `Retry-After` on 429s, when Asana sent a parseable one. */
    readonly retryAfterMs: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(code, message, { cause: options?.cause, retriable, details: { status, retryAfterMs } });
    this.name = 'AsanaApiError';
  }
}

/** Whether `error` is Asana saying the object is gone or out of reach (404, or 403): as good as deleted. */
export function isNotVisible(error: unknown): error is AsanaApiError {
  return error instanceof AsanaApiError && error.code === 'NOT_VISIBLE';
}

/** What `call` resolves to, or null when Asana no longer shows the object (`isNotVisible`); other failures reject. */
export async function nullIfNotVisible<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (error) {
    if (isNotVisible(error)) return null;
    throw error;
  }
}

/** Classifies an HTTP failure from Asana, per Asana's documented status codes. */
export function asanaErrorForStatus(status: number, message: string, retryAfter: string | null): AsanaApiError {
  if (status === 404 || status === 403) return new AsanaApiError('NOT_VISIBLE', message, status);
  if (status === 429) {
    const seconds = retryAfter === null || retryAfter.trim() === '' ? NaN : Number(retryAfter);
    const retryAfterMs = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
    return new AsanaApiError('RATE_LIMITED', message, status, undefined, retryAfterMs);
  }
  if (status === 401) return new AsanaApiError('UNAUTHORIZED', message, status);
  if (status >= 500) return new AsanaApiError('UNAVAILABLE', message, status);
  return new AsanaApiError('REJECTED', message, status);
}

/**
 * The error of a wait for Asana, or a request to it, that `signal` cancelled (the consumer is
 * closing): ABORTED, whose disposition is `retry`, so the message stays uncommitted and is
 * delivered again. Not an AsanaApiError: Asana said nothing, so it must not pause the pacer.
 */
export function abortedError(what: string, signal: AbortSignal): AsanaStreamError {
  return new AsanaStreamError('ABORTED', `${what}: cancelled`, { cause: signal.reason });
}
