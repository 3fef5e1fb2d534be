import { Module } from '@nestjs/common';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import type { PipelineApp } from '@asana-stream/runtime';
import { ConsumerAuthService } from './events-api/consumer-auth.service';
import { EventsApiController } from './events-api/events-api.controller';
import { EventsFeedRepository } from './events-api/events-feed.repository';
import { EventsFeedService } from './events-api/events-feed.service';
import { FeedListener } from './events-api/feed-listener';
import { LookupController } from './lookup/lookup.controller';
import { LookupService } from './lookup/lookup.service';
import { PgNotifications } from './notifications/pg-notifications';
import { OutboxGaugesService } from './relay/outbox-gauges.service';
import { OutboxRetentionService } from './relay/outbox-retention.service';
import { RelayOutboxService } from './relay/relay-outbox.service';
import { RouteTable } from './routes/route-table.service';

@Module({
  // GET /lookup/:gid, the HTTP form of `asana-stream lookup` (see lookup.controller.ts for who may call it).
  // GET /events and /events/stream: the Events API, the feed for consumers without Kafka.
  controllers: [LookupController, EventsApiController],
  providers: [
    // One LISTEN connection for the process: the relay's, the Events API's and the routes' wake-ups.
    {
      provide: PgNotifications,
      useFactory: (config: FanoutConfig) => new PgNotifications(config.db.DATABASE_URL),
      inject: [APP_CONFIG],
    },
    RelayOutboxService,
    OutboxRetentionService,
    OutboxGaugesService,
    LookupService,
    EventsFeedRepository,
    EventsFeedService,
    ConsumerAuthService,
    FeedListener,
    // The routes teams declared: read by the relay (their topics) and the Events API (`route=`).
    RouteTable,
  ],
  // Exported for the health module: a relay that stopped or keeps failing makes fanout unready.
  exports: [RelayOutboxService],
})
export class FanoutModule {}

export const FANOUT_APP: PipelineApp<'fanout'> = {
  name: 'fanout',
  summary: 'relays the outbox to the asana.changes.<type> topics and serves the Events API (GET /events)',
  module: FanoutModule,
  database: true,
  publishes: true,
  readiness: [RelayOutboxService],
};
