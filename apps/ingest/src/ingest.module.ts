import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type IngestConfig } from '@asana-stream/config';
import { TopicNames } from '@asana-stream/contracts';
import { dataSourceOptions, DatabaseReadinessCheck, SubscriptionEntity } from '@asana-stream/db';
import { HealthModule } from '@asana-stream/runtime';
import { createKafkaClient, KafkaPublisher, KafkaPublisherReadinessCheck } from '@asana-stream/kafka';
import { TelemetryModule } from '@asana-stream/telemetry';
import { IngestErrorFilter } from './webhooks/ingest-error.filter';
import { ReceiveDeliveryService } from './webhooks/receive-delivery.service';
import { SubscriptionsRepository } from './webhooks/subscriptions.repository';
import { WebhooksController } from './webhooks/webhooks.controller';

const READINESS = [DatabaseReadinessCheck, KafkaPublisherReadinessCheck];

@Module({})
export class IngestModule {
  static forRoot(config: IngestConfig): DynamicModule {
    const publisher = {
      provide: KafkaPublisher,
      useFactory: () =>
        new KafkaPublisher(createKafkaClient({ brokers: config.kafka.KAFKA_BROKERS, clientId: 'asana-stream-ingest' })),
    };
    return {
      module: IngestModule,
      global: true,
      imports: [
        TelemetryModule,
        TypeOrmModule.forRoot(dataSourceOptions(config.db.DATABASE_URL)),
        TypeOrmModule.forFeature([SubscriptionEntity]),
        HealthModule.register(READINESS),
      ],
      controllers: [WebhooksController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: TopicNames, useValue: new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX) },
        { provide: APP_FILTER, useClass: IngestErrorFilter },
        publisher,
        SubscriptionsRepository,
        ReceiveDeliveryService,
        DatabaseReadinessCheck,
        KafkaPublisherReadinessCheck,
      ],
      exports: [KafkaPublisher, ...READINESS],
    };
  }
}
