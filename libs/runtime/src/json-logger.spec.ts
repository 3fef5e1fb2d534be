import { Logger } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AsanaStreamError } from '@asana-stream/errors';
import { createJsonLogger } from './run-app';
import type { JsonLogLine } from './json-logger';

/** What the logger wrote to stdout and stderr while `work` ran, one string per write. */
function written(work: () => void): string[] {
  const writes: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    work();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return writes;
}

const parsed = (writes: string[]) => writes.map((w) => JSON.parse(w) as JsonLogLine);

describe('the JSON logger every app uses', () => {
  // A real SDK (no exporter, no instrumentation): its context manager makes spans active, and a
  // span processor makes it record spans with real ids (with none it hands out invalid ones).
  const sdk = new NodeSDK({
    spanProcessors: [
      {
        onStart: () => undefined,
        onEnd: () => undefined,
        forceFlush: async () => undefined,
        shutdown: async () => undefined,
      },
    ],
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
  });
  beforeAll(() => sdk.start());
  afterAll(() => sdk.shutdown());

  it('writes one JSON object per line, newline-terminated, with level, timestamp, context and msg', () => {
    const logger = createJsonLogger('fanout');
    const before = Date.now();
    const writes = written(() => logger.log({ msg: 'relay started', batch: 500 }));
    expect(writes).toHaveLength(1);
    expect(writes[0].endsWith('\n')).toBe(true);
    expect(writes[0].trimEnd()).not.toContain('\n');
    const [line] = parsed(writes);
    expect(line).toEqual({
      level: 'log',
      pid: process.pid,
      timestamp: expect.any(Number),
      context: 'fanout',
      message: { msg: 'relay started', batch: 500 },
    });
    expect(line.timestamp).toBeGreaterThanOrEqual(before);
  });

  it("carries the active span's trace_id and span_id, with no argument from the caller", () => {
    const logger = new Logger('RelayOutboxService');
    const nest = createJsonLogger('fanout');
    Logger.overrideLogger(nest);
    try {
      const tracer = trace.getTracer('json-logger-spec');
      let ids: { traceId: string; spanId: string } | undefined;
      const writes = written(() =>
        tracer.startActiveSpan('outbox relay', (span) => {
          ids = span.spanContext();
          logger.warn({ msg: 'outbox row refused; retrying', id: '7' });
          span.end();
        }),
      );
      const [line] = parsed(writes);
      expect(line).toMatchObject({
        level: 'warn',
        context: 'RelayOutboxService',
        message: { msg: 'outbox row refused; retrying', id: '7' },
        trace_id: ids!.traceId,
        span_id: ids!.spanId,
      });
      expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
    } finally {
      Logger.overrideLogger(false);
    }
  });

  it('leaves the trace fields out when no span is active', () => {
    const logger = createJsonLogger('ingest');
    const [line] = parsed(written(() => context.with(context.active(), () => logger.log({ msg: 'idle' }))));
    expect(line).not.toHaveProperty('trace_id');
    expect(line).not.toHaveProperty('span_id');
  });

  it("turns a string message (Nest's own lines) into { msg }, so msg is always the field to search", () => {
    const logger = createJsonLogger('ingest');
    const lines = parsed(
      written(() => {
        logger.log('Nest application successfully started', 'NestApplication');
        logger.log({ message: 'webhook created', gid: '12' });
      }),
    );
    expect(lines.map((l) => [l.context, l.message])).toEqual([
      ['NestApplication', { msg: 'Nest application successfully started' }],
      ['ingest', { msg: 'webhook created', gid: '12' }],
    ]);
  });

  it('keeps levels apart: error and fatal, debug only when asked for', () => {
    const quiet = createJsonLogger('projector', 'info');
    const verbose = createJsonLogger('projector', 'debug');
    const lines = parsed(
      written(() => {
        quiet.debug({ msg: 'hidden' });
        verbose.debug({ msg: 'shown' });
        quiet.error({ msg: 'consumer crashed' });
        quiet.fatal({ msg: 'projector cannot start' });
      }),
    );
    expect(lines.map((l) => [l.level, l.message.msg])).toEqual([
      ['debug', 'shown'],
      ['error', 'consumer crashed'],
      ['fatal', 'projector cannot start'],
    ]);
  });

  it("writes an error field as its classified log form: never a third party's message or stack", () => {
    const logger = createJsonLogger('projector');
    const leaky = new Error('request failed', { cause: new Error('the body was {"name":"Secret task SECRET-42"}') });
    const ours = new AsanaStreamError('DATA_REJECTED', 'Postgres refused the values', { cause: leaky });
    const [plain, wrapped] = written(() => {
      logger.warn({ msg: 'apply failed', error: leaky });
      logger.warn({ msg: 'apply failed', error: ours });
    });
    for (const text of [plain, wrapped]) {
      expect(text).not.toContain('SECRET-42');
      expect(text).not.toMatch(/\bat .+:\d+:\d+/);
    }
    const [first, second] = parsed([plain, wrapped]);
    expect(first.message.error).toMatchObject({ code: 'UNKNOWN', causes: [{ name: 'Error' }, { name: 'Error' }] });
    expect(second.message.error).toMatchObject({ code: 'DATA_REJECTED', message: 'Postgres refused the values' });
  });
});
