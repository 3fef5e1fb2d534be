import { AsanaStreamError, type ErrorCode, type ErrorDetails } from '@asana-stream/errors';

/**
 * What can go wrong receiving a delivery, a part of the project's codes (`@asana-stream/errors`);
 * the exception filter maps each code to HTTP. KAFKA_UNAVAILABLE and DATABASE_UNAVAILABLE are
 * `retry` (503: Asana sends it again); the others are the request's own fault (`dead-letter`: 4xx).
 */
export type IngestErrorCode = Extract<
  ErrorCode,
  | 'UNKNOWN_SUBSCRIPTION'
  | 'HANDSHAKE_NOT_EXPECTED'
  | 'BAD_SIGNATURE'
  | 'MALFORMED_DELIVERY'
  | 'MESSAGE_TOO_LARGE'
  | 'KAFKA_UNAVAILABLE'
  | 'DATABASE_UNAVAILABLE'
>;

export class IngestError extends AsanaStreamError {
  declare readonly code: IngestErrorCode;

  constructor(code: IngestErrorCode, message: string, options: { cause?: unknown; details?: ErrorDetails } = {}) {
    super(code, message, options);
    this.name = 'IngestError';
  }
}
