import { context, propagation, ROOT_CONTEXT, trace, type Context, type Span } from '@opentelemetry/api';

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
