import { ConsoleLogger, type ConsoleLoggerOptions, type LogLevel } from '@nestjs/common';
import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { classifyError } from '@asana-stream/errors';

/**
 * One log line as every app writes it: a JSON object on one line.
 *
 * - `level`: Nest's level name (`fatal`, `error`, `warn`, `log`, `debug`, `verbose`);
 * - `timestamp`: ms since the epoch, when the line was written;
 * - `context`: the class that logged (Nest's logger context), or the app's name;
 * - `message`: always an object whose `msg` is the fixed text to search for, with the fields;
 * - `trace_id`, `span_id`: the active span's, when one is active (W3C hex, as in a `traceparent`);
 * - `stack`: only for a bug logged with its stack.
 */
export interface JsonLogLine {
  level: LogLevel;
  pid: number;
  timestamp: number;
  context?: string;
  message: { msg: string } & Record<string, unknown>;
  trace_id?: string;
  span_id?: string;
  stack?: unknown;
}

/**
 * Nest's `ConsoleLogger` in JSON mode, one object per line, with what an SRE joins logs and
 * traces by: the active OpenTelemetry span's ids are read from the context at the call, so no
 * caller passes them. A message given as a string (Nest's own lines) becomes `{ msg }`, so `msg`
 * is always the field to search.
 *
 * An `Error` among the fields is written as its classified log form (code, our message, the
 * causes' names: `AsanaStreamError.toJSON`), never Node's inspection of it: a third-party error's
 * message and stack can quote a request body, a SQL parameter or a URL with its token.
 */
export class JsonLogger extends ConsoleLogger {
  constructor(appName: string, options: Omit<ConsoleLoggerOptions, 'json' | 'colors' | 'compact'> = {}) {
    super(appName, { ...options, json: true, colors: false, compact: true });
  }

  protected override getJsonLogObject(
    message: unknown,
    options: { context: string; logLevel: LogLevel; writeStreamType?: 'stdout' | 'stderr'; errorStack?: unknown },
  ): JsonLogLine {
    return jsonLogLine(message, options);
  }

  protected override stringifyReplacer(key: string, value: unknown): unknown {
    if (value instanceof Error) return classifyError(value).toJSON();
    return super.stringifyReplacer(key, value);
  }
}

/** The line `JsonLogger` writes for `message`, with the trace ids of the span active now. */
export function jsonLogLine(
  message: unknown,
  options: { context?: string; logLevel: LogLevel; errorStack?: unknown },
): JsonLogLine {
  const line: JsonLogLine = {
    level: options.logLevel,
    pid: process.pid,
    timestamp: Date.now(),
    message: messageObject(message),
  };
  if (options.context) line.context = options.context;
  const span = trace.getSpanContext(context.active());
  if (span && isSpanContextValid(span)) {
    line.trace_id = span.traceId;
    line.span_id = span.spanId;
  }
  if (options.errorStack) line.stack = options.errorStack;
  return line;
}

function messageObject(message: unknown): JsonLogLine['message'] {
  if (message !== null && typeof message === 'object' && !Array.isArray(message) && !(message instanceof Error)) {
    const fields = message as Record<string, unknown>;
    if (typeof fields.msg === 'string') return fields as JsonLogLine['message'];
    // The simulator's and Nest's objects name the text `message`.
    if (typeof fields.message === 'string') {
      const { message: msg, ...rest } = fields;
      return { msg, ...rest };
    }
    return { msg: '', ...fields };
  }
  if (message instanceof Error) return { msg: 'error', error: message };
  return { msg: typeof message === 'string' ? message : String(message) };
}
