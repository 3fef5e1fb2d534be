import { Module } from '@nestjs/common';
import { AsanaClient } from '@asana-stream/asana';
import { APP_CONFIG, type EnricherConfig } from '@asana-stream/config';
import { TOPICS } from '@asana-stream/contracts';
import type { PipelineApp } from '@asana-stream/runtime';
import { EnrichEventService, RESOURCE_FETCHER } from './enrich/enrich-event.service';
import { EventsConsumer } from './enrich/events.consumer';
import { PacedResourceFetcher } from './enrich/paced-resource-fetcher';

@Module({
  controllers: [EventsConsumer],
  providers: [
    {
      provide: RESOURCE_FETCHER,
      useFactory: (config: EnricherConfig) =>
        new PacedResourceFetcher(
          new AsanaClient({ baseUrl: config.asana.ASANA_BASE_URL, token: config.asana.ASANA_TOKEN }),
          {
            requestsPerMinute: config.pacing.ASANA_REQUESTS_PER_MINUTE,
            maxInFlight: config.pacing.ENRICHER_MAX_IN_FLIGHT,
            budgetDatabaseUrl: config.pacing.ASANA_BUDGET_DATABASE_URL,
            token: config.asana.ASANA_TOKEN,
            fallbackRequestsPerMinute: config.pacing.ASANA_FALLBACK_REQUESTS_PER_MINUTE,
          },
        ),
      inject: [APP_CONFIG],
    },
    EnrichEventService,
  ],
})
export class EnricherModule {}

export const ENRICHER_APP: PipelineApp<'enricher'> = {
  name: 'enricher',
  summary: "fetches each event's resource from Asana's API and publishes its current state or a tombstone",
  module: EnricherModule,
  database: false,
  publishes: true,
  consumes: [TOPICS.events.name],
  startedFields: (config) => ({ asana: config.asana.ASANA_BASE_URL }),
};
