import { Module } from '@nestjs/common';
import { AsanaClient } from '@asana-stream/asana';
import { APP_CONFIG, type EnricherConfig } from '@asana-stream/config';
import { TOPICS } from '@asana-stream/contracts';
import type { PipelineApp } from '@asana-stream/runtime';
import { EnrichEventService, RESOURCE_FETCHER } from './enrich/enrich-event.service';
import { EventsConsumer } from './enrich/events.consumer';
import { PacedResourceFetcher } from './enrich/paced-resource-fetcher';
import { EventsFollowerService } from './follow/events-follower.service';
import { ReconcileGaugesService } from './resync/reconcile-gauges.service';
import { ResyncService } from './resync/resync.service';
import { WebhookGaugesService } from './webhooks/webhook-gauges.service';
import { WebhookMonitorService } from './webhooks/webhook-monitor.service';

@Module({
  controllers: [EventsConsumer],
  providers: [
    {
      provide: AsanaClient,
      useFactory: (config: EnricherConfig) =>
        new AsanaClient({ baseUrl: config.asana.ASANA_BASE_URL, token: config.asana.ASANA_TOKEN }),
      inject: [APP_CONFIG],
    },
    {
      provide: PacedResourceFetcher,
      useFactory: (config: EnricherConfig, client: AsanaClient) =>
        new PacedResourceFetcher(client, {
          requestsPerMinute: config.pacing.ASANA_REQUESTS_PER_MINUTE,
          maxInFlight: config.pacing.ENRICHER_MAX_IN_FLIGHT,
          budgetDatabaseUrl: config.pacing.ASANA_BUDGET_DATABASE_URL,
          token: config.asana.ASANA_TOKEN,
          fallbackRequestsPerMinute: config.pacing.ASANA_FALLBACK_REQUESTS_PER_MINUTE,
        }),
      inject: [APP_CONFIG, AsanaClient],
    },
    { provide: RESOURCE_FETCHER, useExisting: PacedResourceFetcher },
    EnrichEventService,
    EventsFollowerService,
    ResyncService,
    ReconcileGaugesService,
    WebhookMonitorService,
    WebhookGaugesService,
  ],
})
export class EnricherModule {}

export const ENRICHER_APP: PipelineApp<'enricher'> = {
  name: 'enricher',
  summary:
    "fetches each event's resource from Asana's API and publishes its current state or a tombstone, " +
    "and follows Asana's Events API for what webhooks lose",
  module: EnricherModule,
  // The Events API follower keeps its place there; enrichment itself does not need it.
  database: true,
  readyWithoutDatabase: true,
  publishes: true,
  consumes: [TOPICS.events.name],
  startedFields: (config) => ({ asana: config.asana.ASANA_BASE_URL }),
};
