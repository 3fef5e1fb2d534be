import { Module } from '@nestjs/common';
import { TOPICS } from '@asana-stream/contracts';
import type { PipelineApp } from '@asana-stream/runtime';
import { ApplyResourceStateService } from './project/apply-resource-state.service';
import { StateConsumer } from './project/state.consumer';

@Module({
  controllers: [StateConsumer],
  providers: [ApplyResourceStateService],
})
export class ProjectorModule {}

export const PROJECTOR_APP: PipelineApp<'projector'> = {
  name: 'projector',
  summary: 'applies resource states to Postgres behind a version guard and writes changes to the outbox',
  module: ProjectorModule,
  database: true,
  publishes: false,
  consumes: [TOPICS.state.name],
};
