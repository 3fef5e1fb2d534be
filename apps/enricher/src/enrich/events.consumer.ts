import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type AsanaEventEnvelope } from '@asana-stream/contracts';
import type { ConsumedMessageContext } from '@asana-stream/kafka';
import { EnrichEventService } from './enrich-event.service';

/** Consumes `asana.events`; the offset is committed once the state is in `asana.state`. */
@Controller()
export class EventsConsumer {
  constructor(private readonly enrichEvent: EnrichEventService) {}

  @EventPattern(TOPICS.events.name)
  async handle(@Payload() envelope: AsanaEventEnvelope, @Ctx() context: ConsumedMessageContext): Promise<void> {
    await this.enrichEvent.enrich(envelope, context.info.heartbeat);
  }
}
