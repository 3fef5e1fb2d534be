import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { classifyError } from '@asana-stream/errors';
import { IngestError, type IngestErrorCode } from './ingest.errors';

/**
 * Asana retries anything but 200/204 for up to 24 h, so the status decides what happens next:
 * 4xx for deliveries that will never be good, 503 when a retry will succeed.
 */
const STATUS_BY_CODE: Record<IngestErrorCode, number> = {
  UNKNOWN_SUBSCRIPTION: 404,
  HANDSHAKE_NOT_EXPECTED: 403,
  BAD_SIGNATURE: 401,
  MALFORMED_DELIVERY: 400,
  KAFKA_UNAVAILABLE: 503,
};

/** Maps errors to HTTP once, leaking nothing internal to the caller. */
@Catch()
export class IngestErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('IngestErrorFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (error instanceof IngestError) {
      const status = STATUS_BY_CODE[error.code];
      if (status >= 500) {
        // The cause's log form: its code and a message without credentials or message bodies.
        const cause = error.cause === undefined ? undefined : classifyError(error.cause).toJSON();
        this.log.error({ msg: 'delivery not accepted', code: error.code, cause });
      } else this.log.warn({ msg: 'delivery rejected', code: error.code, reason: error.message });
      response.status(status).json({ error: error.code, message: error.message });
      return;
    }
    if (error instanceof HttpException) {
      response.status(error.getStatus()).json(error.getResponse());
      return;
    }
    this.log.error({ msg: 'unexpected error', error: error instanceof Error ? error.stack : String(error) });
    response.status(500).json({ error: 'INTERNAL', message: 'internal error' });
  }
}
