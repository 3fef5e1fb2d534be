import { Module } from '@nestjs/common';
import type { PipelineApp } from '@asana-stream/runtime';
import { OutboxGaugesService } from './relay/outbox-gauges.service';
import { OutboxRetentionService } from './relay/outbox-retention.service';
import { RelayOutboxService } from './relay/relay-outbox.service';

@Module({
  providers: [RelayOutboxService, OutboxRetentionService, OutboxGaugesService],
  // Exported for the health module: a relay that stopped or keeps failing makes fanout unready.
  exports: [RelayOutboxService],
})
export class FanoutModule {}

export const FANOUT_APP: PipelineApp<'fanout'> = {
  name: 'fanout',
  summary: 'relays the outbox to the asana.changes.<type> topics',
  module: FanoutModule,
  database: true,
  publishes: true,
  readiness: [RelayOutboxService],
};
