import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type FanoutConfig } from '@asana-stream/config';
import { TopicNames } from '@asana-stream/contracts';
import { dataSourceOptions, DatabaseReadinessCheck } from '@asana-stream/db';
import { createKafkaClient, KafkaPublisher, KafkaPublisherReadinessCheck } from '@asana-stream/kafka';
import { HealthModule } from '@asana-stream/runtime';
import { TelemetryModule } from '@asana-stream/telemetry';
import { RelayOutboxService } from './relay/relay-outbox.service';

const READINESS = [DatabaseReadinessCheck, KafkaPublisherReadinessCheck, RelayOutboxService];

@Module({})
export class FanoutModule {
  static forRoot(config: FanoutConfig): DynamicModule {
    return {
      module: FanoutModule,
      global: true,
      imports: [
        TelemetryModule,
        TypeOrmModule.forRoot(dataSourceOptions(config.db.DATABASE_URL)),
        HealthModule.register(READINESS),
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: TopicNames, useValue: new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX) },
        {
          provide: KafkaPublisher,
          useFactory: () =>
            new KafkaPublisher(
              createKafkaClient({ brokers: config.kafka.KAFKA_BROKERS, clientId: 'asana-stream-fanout' }),
            ),
        },
        RelayOutboxService,
        DatabaseReadinessCheck,
        KafkaPublisherReadinessCheck,
      ],
      exports: [KafkaPublisher, RelayOutboxService, ...READINESS],
    };
  }
}
