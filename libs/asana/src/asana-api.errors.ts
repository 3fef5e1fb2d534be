/** Codes of failures talking to Asana's API; `retriable` says whether trying later can help. */
export type AsanaApiErrorCode =
  | 'NOT_VISIBLE' // 404, or 403 for an object we may no longer see: treated as deleted
  | 'RATE_LIMITED' // 429
  | 'UNAUTHORIZED' // 401: the token is wrong or expired
  | 'REJECTED' // other 4xx: the request itself is wrong
  | 'UNAVAILABLE' // 5xx, timeouts, connection failures
  | 'MALFORMED_RESPONSE';

export class AsanaApiError extends Error {
  constructor(
    readonly code: AsanaApiErrorCode,
    message: string,
    readonly status: number | null,
    readonly retriable: boolean,
    /** From `Retry-After` on 429s, when Asana sent a parseable one. */
    readonly retryAfterMs: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AsanaApiError';
  }
}

/** Classifies an HTTP failure from Asana, per Asana's documented status codes. */
export function asanaErrorForStatus(status: number, message: string, retryAfter: string | null): AsanaApiError {
  if (status === 404 || status === 403) return new AsanaApiError('NOT_VISIBLE', message, status, false);
  if (status === 429) {
    const seconds = retryAfter === null || retryAfter.trim() === '' ? NaN : Number(retryAfter);
    const retryAfterMs = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
    return new AsanaApiError('RATE_LIMITED', message, status, true, retryAfterMs);
  }
  if (status === 401) return new AsanaApiError('UNAUTHORIZED', message, status, true);
  if (status >= 500) return new AsanaApiError('UNAVAILABLE', message, status, true);
  return new AsanaApiError('REJECTED', message, status, false);
}
