import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type AsanaEventEnvelope } from '@asana-stream/contracts';
import type { ConsumedMessageContext } from '@asana-stream/kafka';
import { EnrichEventService } from './enrich-event.service';

/**
 * Consumes `asana.events` (each envelope already checked against its contract by the transport);
 * the offset is committed once the state is in `asana.state`. A shutdown or a rebalance aborts
 * the signal, which ends a fetch waiting for Asana at once: the event stays uncommitted.
 */
@Controller()
export class EventsConsumer {
  constructor(private readonly enrichEvent: EnrichEventService) {}

  @EventPattern(TOPICS.events.name)
  async handle(@Payload() envelope: AsanaEventEnvelope, @Ctx() context: ConsumedMessageContext): Promise<void> {
    const { heartbeat, signal } = context.info;
    await this.enrichEvent.enrich(envelope, { heartbeat, signal });
  }
}
