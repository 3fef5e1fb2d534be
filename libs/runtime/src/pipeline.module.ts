import { Module, type DynamicModule, type FactoryProvider, type Type, type ValueProvider } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG } from '@asana-stream/config';
import { TopicNames } from '@asana-stream/contracts';
import { DatabaseReadinessCheck } from '@asana-stream/db';
import {
  DeadLetterDepthGauge,
  KafkaConsumerReadinessCheck,
  KafkaConsumerServer,
  KafkaPublisher,
  KafkaPublisherReadinessCheck,
} from '@asana-stream/kafka';
import { TelemetryModule } from '@asana-stream/telemetry';
import { HealthModule, type ReadinessCheck } from './health.module';
import { MetricsModule } from './metrics.module';

/** What the bootstrap hands the module: settled before Nest starts, so nothing here waits or retries. */
export interface PipelineModuleOptions {
  /** The app's validated configuration, provided as APP_CONFIG. */
  config: { readonly kafka: { readonly KAFKA_BROKERS: string; readonly KAFKA_TOPIC_PREFIX: string } };
  /** The app's own controllers, consumers and services. */
  module: Type<unknown>;
  /** Checks the app's module provides and exports. */
  readiness: Type<ReadinessCheck>[];
  /** The app publishes: its KafkaPublisher's readiness is checked. */
  publishes: boolean;
  /**
   * The app's KafkaPublisher (connected when the app initialises), when it publishes or its
   * consumer dead-letters through it.
   */
  publisher?: KafkaPublisher;
  /** The consumer transport the app is served by, when it consumes. */
  consumer?: KafkaConsumerServer;
  /** The dead-letter depth gauge of the topics the app consumes (read at scrape). */
  deadLetterDepth?: DeadLetterDepthGauge;
  /** An initialised DataSource whose schema is current, when the app has a database. */
  dataSource?: DataSource;
  /** Whether the database's readiness check is one of the app's (default: whenever it has one). */
  databaseInReadiness?: boolean;
}

/**
 * What every pipeline app shares, visible to its module's providers: APP_CONFIG, TopicNames,
 * and KafkaPublisher and KafkaConsumerServer when the app has them. Global like TypeORM's own
 * core module, so an app's module is a plain static module with no `forRoot(config)`.
 */
@Module({})
class PipelineCoreModule {}

/** The readiness checks of what the bootstrap wired, exported to the health module only. */
@Module({})
class PipelineChecksModule {}

/**
 * The root module of a pipeline app: shared infrastructure, TypeORM over the DataSource the
 * bootstrap opened, telemetry flushing, health endpoints with every readiness check, `GET /metrics`,
 * and the app's own module. Built by `createPipelineApp`; apps do not use it directly.
 */
@Module({})
export class PipelineModule {
  static forRoot(options: PipelineModuleOptions): DynamicModule {
    const { config, consumer, dataSource } = options;
    const shared: (ValueProvider | FactoryProvider)[] = [
      { provide: APP_CONFIG, useValue: config },
      { provide: TopicNames, useValue: new TopicNames(config.kafka.KAFKA_TOPIC_PREFIX) },
    ];
    const checks: Type<ReadinessCheck>[] = [];
    if (options.publisher) {
      // A value provider still gets its lifecycle hooks: connected at init, drained at shutdown.
      shared.push({ provide: KafkaPublisher, useValue: options.publisher });
      if (options.publishes) checks.push(KafkaPublisherReadinessCheck);
    }
    if (options.deadLetterDepth) shared.push({ provide: DeadLetterDepthGauge, useValue: options.deadLetterDepth });
    if (consumer) {
      shared.push({ provide: KafkaConsumerServer, useValue: consumer });
      checks.push(KafkaConsumerReadinessCheck);
    }
    if (dataSource && options.databaseInReadiness !== false) checks.push(DatabaseReadinessCheck);
    const core: DynamicModule = {
      module: PipelineCoreModule,
      global: true,
      providers: shared,
      exports: shared.map((provider) => provider.provide),
    };
    const wiredChecks: DynamicModule = { module: PipelineChecksModule, providers: checks, exports: checks };
    const database = dataSource
      ? [
          TypeOrmModule.forRootAsync({
            // Already initialised, so TypeORM's module neither connects nor retries; it still
            // provides the DataSource and repositories and closes the pool at shutdown.
            useFactory: () => dataSource.options,
            dataSourceFactory: async () => dataSource,
          }),
        ]
      : [];
    return {
      module: PipelineModule,
      imports: [
        core,
        TelemetryModule,
        ...database,
        HealthModule.register({
          checks: [...checks, ...options.readiness],
          imports: [wiredChecks, options.module],
        }),
        MetricsModule,
        options.module,
      ],
    };
  }
}
