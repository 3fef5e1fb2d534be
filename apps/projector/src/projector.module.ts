import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type ProjectorConfig } from '@asana-stream/config';
import { dataSourceOptions, DatabaseReadinessCheck } from '@asana-stream/db';
import { KafkaConsumerReadinessCheck, KafkaConsumerServer } from '@asana-stream/kafka';
import { HealthModule } from '@asana-stream/runtime';
import { TelemetryModule } from '@asana-stream/telemetry';
import { ApplyResourceStateService } from './project/apply-resource-state.service';
import { StateConsumer } from './project/state.consumer';

const READINESS = [DatabaseReadinessCheck, KafkaConsumerReadinessCheck];

@Module({})
export class ProjectorModule {
  static forRoot(config: ProjectorConfig, consumer: KafkaConsumerServer): DynamicModule {
    return {
      module: ProjectorModule,
      global: true,
      imports: [
        TelemetryModule,
        TypeOrmModule.forRoot(dataSourceOptions(config.db.DATABASE_URL)),
        HealthModule.register(READINESS),
      ],
      controllers: [StateConsumer],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: KafkaConsumerServer, useValue: consumer },
        ApplyResourceStateService,
        DatabaseReadinessCheck,
        KafkaConsumerReadinessCheck,
      ],
      exports: [KafkaConsumerServer, ...READINESS],
    };
  }
}
