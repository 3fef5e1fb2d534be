import { AsanaStreamError, type ErrorCode } from '@asana-stream/errors';

/**
 * What can go wrong receiving a delivery, a part of the project's codes (`@asana-stream/errors`);
 * the exception filter maps each code to HTTP. KAFKA_UNAVAILABLE is `retry` (503: Asana sends it
 * again); the others are the request's own fault (`dead-letter`: 4xx).
 */
export type IngestErrorCode = Extract<
  ErrorCode,
  'UNKNOWN_SUBSCRIPTION' | 'HANDSHAKE_NOT_EXPECTED' | 'BAD_SIGNATURE' | 'MALFORMED_DELIVERY' | 'KAFKA_UNAVAILABLE'
>;

export class IngestError extends AsanaStreamError {
  declare readonly code: IngestErrorCode;

  constructor(code: IngestErrorCode, message: string, options?: { cause?: unknown });
  /** @deprecated the code decides whether it is retriable: pass `options` only. */
  constructor(code: IngestErrorCode, message: string, retriable: boolean, options?: { cause?: unknown });
  constructor(
    code: IngestErrorCode,
    message: string,
    retriableOrOptions?: boolean | { cause?: unknown },
    options?: { cause?: unknown },
  ) {
    const cause = typeof retriableOrOptions === 'object' ? retriableOrOptions.cause : options?.cause;
    super(code, message, {
      cause,
      retriable: typeof retriableOrOptions === 'boolean' ? retriableOrOptions : undefined,
    });
    this.name = 'IngestError';
  }
}
