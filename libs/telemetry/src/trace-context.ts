import { context, propagation, ROOT_CONTEXT, trace, type Context, type Link, type Span } from '@opentelemetry/api';

/** The tracer for spans the instrumentations cannot make (outbox relay, projection). */
export const tracer = trace.getTracer('asana-stream');

/** The W3C `traceparent` of the active context, for carriers that are not HTTP or Kafka (the outbox row). */
export function currentTraceparent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** A context whose parent is the given `traceparent` (or the root context when there is none). */
export function contextFromTraceparent(traceparent: string | null): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/**
 * The most links a span of a batch gets: OpenTelemetry's default span link limit
 * (`OTEL_SPAN_LINK_COUNT_LIMIT`), past which the SDK drops them anyway.
 */
export const MAX_SPAN_LINKS = 128;

/**
 * Links to the traces of the given `traceparent`s, in order, for those that carry one, at most
 * `MAX_SPAN_LINKS`: the rest are not even parsed.
 */
export function linksTo(traceparents: Iterable<string | null | undefined>): Link[] {
  const links: Link[] = [];
  for (const traceparent of traceparents) {
    const linked = traceparent ? trace.getSpanContext(contextFromTraceparent(traceparent)) : undefined;
    if (linked && links.push({ context: linked }) === MAX_SPAN_LINKS) break;
  }
  return links;
}

/** Runs `work` inside a new span that ends when it settles, recording a thrown error. */
export async function inSpan<T>(name: string, parent: Context, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, {}, parent, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: 2 });
      throw error;
    } finally {
      span.end();
    }
  });
}
