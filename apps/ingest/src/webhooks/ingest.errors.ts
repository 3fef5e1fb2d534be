/** What can go wrong receiving a delivery; the exception filter maps each code to HTTP. */
export type IngestErrorCode =
  'UNKNOWN_SUBSCRIPTION' | 'HANDSHAKE_NOT_EXPECTED' | 'BAD_SIGNATURE' | 'MALFORMED_DELIVERY' | 'KAFKA_UNAVAILABLE';

export class IngestError extends Error {
  constructor(
    readonly code: IngestErrorCode,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'IngestError';
  }
}
