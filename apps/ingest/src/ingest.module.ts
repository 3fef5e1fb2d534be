import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, WebhookSecretCipher, type IngestConfig } from '@asana-stream/config';
import { SubscriptionEntity } from '@asana-stream/db';
import { RECORD_BATCH_HEADER_BYTES } from '@asana-stream/kafka';
import type { PipelineApp } from '@asana-stream/runtime';
import { configureIngestApp } from './ingest.app';
import { IngestErrorFilter } from './webhooks/ingest-error.filter';
import { ReceiveDeliveryService } from './webhooks/receive-delivery.service';
import { SubscriptionsRepository } from './webhooks/subscriptions.repository';
import { WebhooksController } from './webhooks/webhooks.controller';

@Module({
  imports: [TypeOrmModule.forFeature([SubscriptionEntity])],
  controllers: [WebhooksController],
  providers: [
    { provide: APP_FILTER, useClass: IngestErrorFilter },
    {
      provide: WebhookSecretCipher,
      useFactory: (config: IngestConfig) => WebhookSecretCipher.fromKeyRing(config.secrets.WEBHOOK_SECRET_KEYS),
      inject: [APP_CONFIG],
    },
    SubscriptionsRepository,
    ReceiveDeliveryService,
  ],
})
export class IngestModule {}

export const INGEST_APP: PipelineApp<'ingest'> = {
  name: 'ingest',
  summary: 'receives Asana webhook deliveries (handshake, signature) and publishes each event to Kafka',
  module: IngestModule,
  database: true,
  readyWithoutDatabase: true,
  publishes: true,
  // A raw delivery is one message as large as the topic takes: a record batch of its own.
  publisherOptions: (config) => ({
    maxMessageBytes: config.ingest.KAFKA_MAX_MESSAGE_BYTES - RECORD_BATCH_HEADER_BYTES,
  }),
  http: { bodyParser: false, configure: configureIngestApp },
};
