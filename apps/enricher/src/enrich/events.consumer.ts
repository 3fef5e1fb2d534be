import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { TOPICS, type AsanaEventEnvelope } from '@asana-stream/contracts';
import type {
  ConsumedBatchContext,
  ConsumedMessage,
  ConsumedMessageInfo,
  ConsumerPatternExtras,
} from '@asana-stream/kafka';
import { coalesceByResource, worstFailure } from './coalesce-events';
import { EnrichEventService } from './enrich-event.service';

/** Messages whose state is in `asana.state` although their batch failed, remembered at most. */
const MAX_REMEMBERED = 100_000;

/**
 * Consumes `asana.events` a partition's batch at a time (each envelope already checked against its
 * contract by the transport). The events of one gid in a batch become one fetch, whose state
 * message answers all of them (`causes`); different gids are fetched at once, as many as the
 * pacer lets go (ENRICHER_MAX_IN_FLIGHT). The transport commits the batch's offsets only once the
 * handler resolved, that is once every state is acknowledged by `asana.state`.
 *
 * A fetch that fails does not stop the others: their states are published, and the handler then
 * throws the worst failure (halt, retry, dead-letter) for the transport to act on. The transport
 * runs the batch again (retry, halt) or its messages one at a time (dead-letter, so only the
 * culprit is parked); messages already answered are remembered here and skipped then, so they
 * cost Asana nothing more. A shutdown or a rebalance aborts the signal, which ends every fetch
 * waiting for Asana at once: the batch stays uncommitted.
 */
@Controller()
export class EventsConsumer {
  /** `topic:partition:offset` of messages answered in a batch that failed. */
  private readonly answered = new Set<string>();

  constructor(private readonly enrichEvent: EnrichEventService) {}

  @EventPattern(TOPICS.events.name, { batch: true } satisfies ConsumerPatternExtras)
  async handle(
    @Payload() messages: ConsumedMessage<AsanaEventEnvelope>[],
    @Ctx() batch: ConsumedBatchContext,
  ): Promise<void> {
    const { heartbeat, signal } = batch.info;
    // Nothing is remembered unless a batch failed: then the transport runs it again.
    const pending =
      this.answered.size === 0 ? messages : messages.filter(({ info }) => !this.answered.has(keyOf(info)));
    const failures: unknown[] = [];
    const answered: ConsumedMessage<AsanaEventEnvelope>[] = [];
    await Promise.all(
      coalesceByResource(pending, ({ value }) => value).map(async ({ fetches }) => {
        // One gid's fetches (one, unless its type changed) one after another, in order.
        for (const { items } of fetches) {
          try {
            await inTraceOf(items[0].info, () =>
              this.enrichEvent.enrichCoalesced(
                items.map(({ value }) => value),
                { heartbeat, signal },
              ),
            );
            answered.push(...items);
          } catch (error) {
            failures.push(error);
            return; // the gid's later events wait behind the failed ones
          }
        }
      }),
    );
    const failure = worstFailure(failures);
    if (failure === undefined) {
      if (this.answered.size > 0) for (const { info } of messages) this.answered.delete(keyOf(info));
      return;
    }
    this.remember(answered);
    throw failure;
  }

  private remember(messages: readonly ConsumedMessage[]): void {
    for (const { info } of messages) this.answered.add(keyOf(info));
    // Oldest first: a Set iterates in insertion order.
    for (const key of this.answered) {
      if (this.answered.size <= MAX_REMEMBERED) break;
      this.answered.delete(key);
    }
  }
}

function keyOf({ topic, partition, offset }: ConsumedMessageInfo): string {
  return `${topic}:${partition}:${offset}`;
}

/**
 * Runs `work` in the trace of the message (its producer's span, from `traceparent`), so the fetch
 * and the state it publishes stay in the trace of the delivery that brought the event; the
 * transport gives a batch handler only a span of its own, linked to its messages.
 */
function inTraceOf<T>(info: ConsumedMessageInfo, work: () => Promise<T>): Promise<T> {
  if (info.headers.traceparent === undefined) return work();
  return context.with(propagation.extract(ROOT_CONTEXT, info.headers), work);
}
