import { Module, type DynamicModule } from '@nestjs/common';
import { AsanaClient } from '@asana-stream/asana';
import { APP_CONFIG, type EnricherConfig } from '@asana-stream/config';
import { TopicNames } from '@asana-stream/contracts';
import {
  createKafkaClient,
  KafkaConsumerReadinessCheck,
  KafkaConsumerServer,
  KafkaPublisher,
  KafkaPublisherReadinessCheck,
} from '@asana-stream/kafka';
import { HealthModule } from '@asana-stream/runtime';
import { TelemetryModule } from '@asana-stream/telemetry';
import { EnrichEventService, RESOURCE_FETCHER } from './enrich/enrich-event.service';
import { EventsConsumer } from './enrich/events.consumer';
import { PacedResourceFetcher } from './enrich/paced-resource-fetcher';

const READINESS = [KafkaPublisherReadinessCheck, KafkaConsumerReadinessCheck];

@Module({})
export class EnricherModule {
  static forRoot(config: EnricherConfig, consumer: KafkaConsumerServer): DynamicModule {
    return {
      module: EnricherModule,
      global: true,
      imports: [TelemetryModule, HealthModule.register(READINESS)],
      controllers: [EventsConsumer],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: TopicNames, useValue: new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX) },
        { provide: KafkaConsumerServer, useValue: consumer },
        {
          provide: KafkaPublisher,
          useFactory: () =>
            new KafkaPublisher(
              createKafkaClient({ brokers: config.kafka.KAFKA_BROKERS, clientId: 'asana-stream-enricher' }),
            ),
        },
        {
          provide: RESOURCE_FETCHER,
          useValue: new PacedResourceFetcher(
            new AsanaClient({ baseUrl: config.asana.ASANA_BASE_URL, token: config.asana.ASANA_TOKEN }),
            config.pacing.ASANA_REQUESTS_PER_MINUTE,
          ),
        },
        EnrichEventService,
        KafkaPublisherReadinessCheck,
        KafkaConsumerReadinessCheck,
      ],
      exports: [KafkaPublisher, KafkaConsumerServer, TopicNames, ...READINESS],
    };
  }
}
