import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type ResourceStateMessage } from '@asana-stream/contracts';
import type { ConsumedMessageContext } from '@asana-stream/kafka';
import { ApplyResourceStateService } from './apply-resource-state.service';

/**
 * Consumes `asana.state` (each message already checked against its contract by the transport);
 * the offset is committed once the projection transaction committed. One message at a time per
 * gid; the transport's batch form (`{ batch: true }`) awaits a set-based apply.
 */
@Controller()
export class StateConsumer {
  constructor(private readonly applyState: ApplyResourceStateService) {}

  @EventPattern(TOPICS.state.name)
  async handle(@Payload() message: ResourceStateMessage, @Ctx() _context: ConsumedMessageContext): Promise<void> {
    await this.applyState.apply(message);
  }
}
