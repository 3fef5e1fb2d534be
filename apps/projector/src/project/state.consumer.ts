import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { TOPICS, type ResourceStateMessage } from '@asana-stream/contracts';
import type { ConsumedBatchContext, ConsumedMessage, ConsumerPatternExtras } from '@asana-stream/kafka';
import { contextFromTraceparent, currentTraceparent, tracer } from '@asana-stream/telemetry';
import { ApplyResourceStateService, type StateToApply } from './apply-resource-state.service';

/**
 * Consumes `asana.state` a partition batch at a time (each message already checked against its
 * contract by the transport) and applies it in one Postgres transaction. The handler resolves
 * only once that transaction committed, and the transport commits the batch's offsets only then.
 *
 * - A database failure rejects the whole batch: nothing was written, and the transport retries it
 *   (or halts) by the error's disposition.
 * - A message the projection cannot take is left out while the rest commit; the handler then
 *   throws its (dead-letter) error, and the transport runs the batch's messages again one at a
 *   time: the committed ones are duplicates that write nothing, and the culprit is dead-lettered.
 */
@Controller()
export class StateConsumer {
  constructor(private readonly applyState: ApplyResourceStateService) {}

  @EventPattern(TOPICS.state.name, { batch: true } satisfies ConsumerPatternExtras)
  async handle(
    @Payload() messages: ConsumedMessage<ResourceStateMessage>[],
    @Ctx() _context: ConsumedBatchContext,
  ): Promise<void> {
    const spans: (Span | undefined)[] = [];
    const items: StateToApply[] = messages.map(({ value, info }) => {
      const { span, traceparent } = startApplySpan(value, info.headers.traceparent, info.offset);
      spans.push(span);
      return { message: value, traceparent };
    });
    let outcomes;
    try {
      outcomes = await this.applyState.applyBatch(items);
    } catch (error) {
      for (const span of spans) span?.setStatus({ code: SpanStatusCode.ERROR }).end();
      throw error;
    }
    outcomes.forEach((outcome, index) => {
      if (typeof outcome !== 'string') spans[index]?.setStatus({ code: SpanStatusCode.ERROR, message: outcome.code });
      spans[index]?.setAttribute('asana_stream.outcome', typeof outcome === 'string' ? outcome : 'rejected').end();
    });
    const rejected = outcomes.find((outcome) => typeof outcome !== 'string');
    if (rejected !== undefined) throw rejected;
  }
}

/**
 * The batch runs in one span of its own (the transport's, linked to the messages' traces). Each
 * message that carries trace context also gets an `apply` span in its own trace, whose context
 * its outbox change carries on, so one delivery stays one trace through the fanout.
 */
function startApplySpan(
  message: ResourceStateMessage,
  traceparent: string | undefined,
  offset: string,
): { span?: Span; traceparent: string | null } {
  if (traceparent === undefined) return { traceparent: null };
  const batch = trace.getActiveSpan()?.spanContext();
  const parent = contextFromTraceparent(traceparent);
  const span = tracer.startSpan(
    `apply ${TOPICS.state.name}`,
    {
      kind: SpanKind.INTERNAL,
      links: batch ? [{ context: batch }] : [],
      attributes: {
        'asana_stream.gid': message.gid,
        'asana_stream.version': message.version,
        'messaging.kafka.offset': offset,
      },
    },
    parent,
  );
  return { span, traceparent: context.with(trace.setSpan(parent, span), currentTraceparent) };
}
