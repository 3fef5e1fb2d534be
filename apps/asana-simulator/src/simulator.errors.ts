/**
 * What went wrong, in the simulator's own terms; `asana-error.filter.ts` maps each code to the
 * HTTP status and body Asana would answer with, so services never throw HTTP exceptions.
 */
export type SimulatorErrorCode =
  | 'NOT_AUTHORIZED'
  | 'INVALID_REQUEST'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'NO_ROUTE'
  | 'HANDSHAKE_FAILED'
  | 'RATE_LIMITED'
  | 'SYNC_TOKEN_EXPIRED'
  | 'INJECTED_FAILURE';

export interface SimulatorErrorOptions {
  cause?: unknown;
  /** The HTTP status, where one code covers several (an outage: 500, 502, 503 or 504). */
  status?: number;
  /** Response headers the answer carries (a 429's Retry-After). */
  headers?: Record<string, string>;
  /** Top-level keys the error body carries beside `errors` (an events 412's `sync`). */
  body?: Record<string, string>;
}

export class SimulatorError extends Error {
  readonly status: number | undefined;
  readonly headers: Record<string, string>;
  readonly body: Record<string, string>;

  constructor(
    readonly code: SimulatorErrorCode,
    message: string,
    { cause, status, headers = {}, body = {} }: SimulatorErrorOptions = {},
  ) {
    super(message, { cause });
    this.name = 'SimulatorError';
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

/** Asana's wording for a gid in the path that names nothing visible (unknown or in the trash). */
export function unknownObject(gid: string): SimulatorError {
  return new SimulatorError('NOT_FOUND', `Unknown object: ${gid}`);
}

/** Asana's wording for a gid in a request body or query that names nothing visible. */
export function unrecognizedId(field: string, gid: string): SimulatorError {
  return new SimulatorError('INVALID_REQUEST', `${field}: Not a recognized ID: ${gid}`);
}

export function invalidRequest(message: string): SimulatorError {
  return new SimulatorError('INVALID_REQUEST', message);
}
