import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { classifyError, type AsanaStreamError, type ErrorCode } from '@asana-stream/errors';
import { wasCutOff } from '../cut-off-requests';
import { IngestError } from './ingest.errors';
import { outcomeOfCode, setOutcome } from './ingest-metrics';

/**
 * Asana retries anything but 200/204 for up to 24 h, so the status decides what happens next:
 * 4xx for deliveries that will never be good, 503 when a retry may succeed. Codes not listed
 * answer by their disposition: `dead-letter` 400, `retry` and `halt` 503.
 */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  UNKNOWN_SUBSCRIPTION: 404,
  HANDSHAKE_NOT_EXPECTED: 403,
  BAD_SIGNATURE: 401,
  MALFORMED_DELIVERY: 400,
  INVALID_MESSAGE: 400,
  MESSAGE_TOO_LARGE: 413,
};

/** What body-parser (raw-body) fails with: an http-errors error with a `type`. */
interface BodyReadError {
  type: string;
  status: number;
  limit?: number;
  length?: number;
}

function isBodyReadError(error: unknown): error is BodyReadError {
  const fields = error as Partial<BodyReadError> | null;
  return (
    typeof fields === 'object' &&
    fields !== null &&
    typeof fields.type === 'string' &&
    typeof fields.status === 'number'
  );
}

/** Errors only a bug of ours throws: a 500, with its stack. */
function isProgrammingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof ReferenceError;
}

/**
 * Maps errors to HTTP once, leaking nothing internal to the caller: codes that ingest decides
 * (IngestError) by their code, anything else by `classifyError`'s disposition. Expected failures
 * are one log line without a stack; only a bug of ours is a 500, logged with its stack.
 */
@Catch()
export class IngestErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('IngestErrorFilter');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    const request = http.getRequest<Request>();
    if (isBodyReadError(error)) {
      this.bodyNotRead(error, request, response);
      return;
    }
    if (error instanceof HttpException) {
      setOutcome(response, `http_${error.getStatus()}`);
      response.status(error.getStatus()).json(error.getResponse());
      return;
    }
    const classified = classifyError(error);
    if (classified.code === 'UNKNOWN' && isProgrammingError(error)) {
      this.log.error({ msg: 'unexpected error', error: classified.toJSON(), stack: (error as Error).stack });
      setOutcome(response, 'internal');
      response.status(500).json({ error: 'INTERNAL', message: 'internal error' });
      return;
    }
    const status = STATUS_BY_CODE[classified.code] ?? (classified.disposition === 'dead-letter' ? 400 : 503);
    // Our own messages are written for the caller; a classified third-party message is not.
    const message =
      error instanceof IngestError
        ? error.message
        : status === 503
          ? 'temporarily unable to accept the delivery; retry later'
          : 'the delivery is not acceptable';
    this.logOutcome(status, classified);
    setOutcome(response, outcomeOfCode(classified.code));
    response.status(status).json({ error: classified.code, message });
  }

  private logOutcome(status: number, error: AsanaStreamError): void {
    if (status < 500) {
      const details = Object.keys(error.details).length > 0 ? error.details : undefined;
      this.log.warn({ msg: 'delivery rejected', code: error.code, reason: error.message, details });
      return;
    }
    // What our own error wraps (the Kafka or Postgres failure), classified for the log.
    const cause = error instanceof IngestError && error.cause !== undefined ? classifyError(error.cause) : undefined;
    const line = { msg: 'delivery not accepted', code: error.code, error: error.toJSON(), cause: cause?.toJSON() };
    // A halt needs someone to act (a refused credential, a fenced producer); Kafka refusing our
    // records (dead-letter under a 503) is a setting that does not match the broker's; an error
    // nothing recognised may be a bug: error. A dependency that Asana's retry will find back: warn.
    const grave = [error, cause].some((e) => e !== undefined && (e.disposition !== 'retry' || e.code === 'UNKNOWN'));
    if (grave) this.log.error(line);
    else this.log.warn(line);
  }

  /** The raw body parser gave up: too large, the client went away, or a body it cannot decode. */
  private bodyNotRead(error: BodyReadError, request: Request, response: Response): void {
    if (error.type === 'request.aborted') {
      // The socket is gone; if the server cut it (a timeout), that was logged already.
      if (!wasCutOff(request.socket)) {
        this.log.log({ msg: 'request aborted by the client', path: request.path, receivedBytes: error.length });
      }
      return;
    }
    if (error.type === 'entity.too.large') {
      const message = `the body is larger than the ${error.limit} bytes ingest accepts (INGEST_MAX_BODY_BYTES)`;
      this.log.warn({ msg: 'delivery rejected', code: 'MESSAGE_TOO_LARGE', reason: message, bytes: error.length });
      setOutcome(response, outcomeOfCode('MESSAGE_TOO_LARGE'));
      response.status(413).json({ error: 'MESSAGE_TOO_LARGE', message });
      return;
    }
    const status = error.status >= 400 && error.status < 500 ? error.status : 400;
    const message = `the body could not be read (${error.type})`;
    this.log.warn({ msg: 'delivery rejected', code: 'MALFORMED_DELIVERY', reason: message });
    setOutcome(response, outcomeOfCode('MALFORMED_DELIVERY'));
    response.status(status).json({ error: 'MALFORMED_DELIVERY', message });
  }
}
