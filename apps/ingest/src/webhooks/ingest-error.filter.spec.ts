import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { BadRequestException, Logger, type ArgumentsHost } from '@nestjs/common';
import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { handleClientErrors } from '../cut-off-requests';
import { IngestErrorFilter } from './ingest-error.filter';
import { IngestError } from './ingest.errors';

interface Answer {
  status?: number;
  body?: unknown;
}

/** What the filter answers to `error`, and the log lines it writes meanwhile. */
function answer(error: unknown, socket: object = {}) {
  const answered: Answer = {};
  const response = {
    status(code: number) {
      answered.status = code;
      return response;
    },
    json(body: unknown) {
      answered.body = body;
      return response;
    },
  };
  const host = {
    switchToHttp: () => ({ getResponse: () => response, getRequest: () => ({ socket, path: '/webhooks/asana/x' }) }),
  } as unknown as ArgumentsHost;
  new IngestErrorFilter().catch(error, host);
  return answered;
}

const pgError = (code: string) =>
  Object.assign(new DatabaseError('the server said so', 0, 'error'), { code, severity: 'ERROR' });
const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
/** http-errors as body-parser (raw-body) creates them. */
const bodyError = (type: string, status: number, fields: object = {}) =>
  Object.assign(new Error(type), { type, status, statusCode: status, expose: true, ...fields });

describe('IngestErrorFilter', () => {
  const lines: { level: string; line: Record<string, unknown> }[] = [];

  beforeEach(() => {
    lines.length = 0;
    for (const level of ['log', 'warn', 'error'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...[line]: unknown[]) => {
        lines.push({ level, line: line as Record<string, unknown> });
      });
    }
  });

  afterEach(() => jest.restoreAllMocks());

  it.each<[string, IngestError, number]>([
    ['an unknown subscription', new IngestError('UNKNOWN_SUBSCRIPTION', 'm'), 404],
    ['an unexpected handshake', new IngestError('HANDSHAKE_NOT_EXPECTED', 'm'), 403],
    ['a bad signature', new IngestError('BAD_SIGNATURE', 'm'), 401],
    ['a malformed delivery', new IngestError('MALFORMED_DELIVERY', 'm'), 400],
    ['a delivery too large for Kafka', new IngestError('MESSAGE_TOO_LARGE', 'm'), 413],
    ['Kafka not acknowledging', new IngestError('KAFKA_UNAVAILABLE', 'm', { cause: refused() }), 503],
    ['Postgres not answering', new IngestError('DATABASE_UNAVAILABLE', 'm', { cause: refused() }), 503],
  ])('answers %s with its status and our message', (_label, error, status) => {
    expect(answer(error)).toEqual({ status, body: { error: error.code, message: 'm' } });
  });

  it.each<[string, unknown, number, string]>([
    ['a refused connection', refused(), 503, 'UNAVAILABLE'],
    ['Postgres shutting down', pgError('57P01'), 503, 'DATABASE_UNAVAILABLE'],
    [
      'a query on a table that does not exist (halt)',
      new QueryFailedError('SELECT', [], pgError('42P01')),
      503,
      'INTERNAL',
    ],
    ['a refused login (halt)', pgError('28P01'), 503, 'UNAUTHORIZED'],
    ['a body nested too deep to walk', new RangeError('Maximum call stack size exceeded'), 400, 'INVALID_MESSAGE'],
  ])('answers anything else by its classification: %s', (_label, error, status, code) => {
    const answered = answer(error);
    expect(answered.status).toBe(status);
    expect(answered.body).toMatchObject({ error: code });
    // Never a third party's message: it may name hosts or quote a body.
    expect(JSON.stringify(answered.body)).not.toMatch(/ECONNREFUSED|server said|Maximum call stack/);
  });

  it('logs a halt as an error and a passing outage as a warning, without a stack either way', () => {
    answer(pgError('28P01'));
    answer(new IngestError('KAFKA_UNAVAILABLE', 'm', { cause: refused() }));

    expect(lines.map((l) => [l.level, l.line.msg])).toEqual([
      ['error', 'delivery not accepted'],
      ['warn', 'delivery not accepted'],
    ]);
    expect(JSON.stringify(lines)).not.toContain('    at ');
  });

  it('answers 500 only for a bug of ours, logged with its stack', () => {
    const answered = answer(new TypeError("Cannot read properties of undefined (reading 'gid')"));

    expect(answered).toEqual({ status: 500, body: { error: 'INTERNAL', message: 'internal error' } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', line: { msg: 'unexpected error' } });
    expect(String(lines[0].line.stack)).toContain('    at ');
  });

  it("passes Nest's own HTTP exceptions through", () => {
    expect(answer(new BadRequestException('Validation failed (uuid is expected)'))).toMatchObject({ status: 400 });
  });

  it('answers a body over the limit 413 with the limit, logged as one warning without a stack', () => {
    const answered = answer(bodyError('entity.too.large', 413, { limit: 1_000_000, length: 1_200_000 }));

    expect(answered).toEqual({
      status: 413,
      body: {
        error: 'MESSAGE_TOO_LARGE',
        message: 'the body is larger than the 1000000 bytes ingest accepts (INGEST_MAX_BODY_BYTES)',
      },
    });
    expect(lines.map((l) => [l.level, l.line.msg, l.line.code])).toEqual([
      ['warn', 'delivery rejected', 'MESSAGE_TOO_LARGE'],
    ]);
  });

  it('logs a request the client aborted as one info line, and none when the server cut it off (logged then)', () => {
    answer(bodyError('request.aborted', 400, { received: 10, length: 10 }));

    const server = new EventEmitter();
    handleClientErrors(server as Server, { requestTimeoutMs: 2000, headersTimeoutMs: 2000 });
    const socket = { writable: true, write: jest.fn(), destroy: jest.fn() };
    server.emit('clientError', Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    answer(bodyError('request.aborted', 400), socket);

    expect(lines.map((l) => [l.level, l.line.msg])).toEqual([
      ['log', 'request aborted by the client'],
      ['log', 'request timed out'],
    ]);
    expect(socket.write).toHaveBeenCalledWith(expect.stringMatching(/^HTTP\/1\.1 408 /));
    expect(socket.destroy).toHaveBeenCalled();
  });
});
