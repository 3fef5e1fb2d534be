import type { LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestMicroservice } from '@nestjs/microservices';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { DataSource } from 'typeorm';
import {
  envHelp,
  loadAppConfig,
  type APP_CONFIG_PARTS,
  type ConfigOf,
  type ConsumerEnv,
  type DatabaseEnv,
  type HttpEnv,
  type KafkaEnv,
  type StartupEnv,
} from '@asana-stream/config';
import { messageDecoder, TopicNames } from '@asana-stream/contracts';
import { assertSchemaCurrent, createDataSource } from '@asana-stream/db';
import {
  consumerGroupId,
  createKafkaClient,
  DeadLetterDepthGauge,
  KafkaConsumerErrorFilter,
  KafkaConsumerServer,
  KafkaPublisher,
  type KafkaPublisherOptions,
} from '@asana-stream/kafka';
import { startProcessMetrics } from '@asana-stream/metrics';
import { tuneHeapGrowth } from './heap-growth';
import type { ReadinessCheck } from './health.module';
import { PipelineModule } from './pipeline.module';
import { runApp } from './run-app';
import { kafkaDependency, postgresDependency } from './startup-probes';
import { waitForDependencies, type StartupDependency } from './wait-for-dependencies';

/** The deployed services, each started by `runPipelineApp`. */
export type PipelineAppName = 'ingest' | 'enricher' | 'projector' | 'fanout';
export type PipelineConfig<A extends PipelineAppName> = ConfigOf<(typeof APP_CONFIG_PARTS)[A]>;

/**
 * What makes one pipeline app, declared beside its module; the bootstrap wires the rest the same
 * way for every app: configuration, topic names, Kafka client id `asana-stream-<name>`, waiting for
 * Postgres and Kafka, TypeORM, telemetry flushing, health and readiness, `GET /metrics`, the
 * consumer transport.
 */
export interface PipelineApp<A extends PipelineAppName> {
  /** The app's name: its config (APP_CONFIG_PARTS), logger, Kafka client id and consumer group. */
  name: A;
  /** What the app does, in one line for `--help`. */
  summary: string;
  /**
   * The app's controllers, consumers and services. Its providers can inject APP_CONFIG,
   * TopicNames, KafkaPublisher (when `publishes`), KafkaConsumerServer (when `consumes`) and
   * TypeORM's DataSource and repositories (when `database`).
   */
  module: Type<unknown>;
  /**
   * Postgres at DATABASE_URL: waited for at startup, and the app refuses to start while
   * migrations are pending. Required by the type exactly when the app's config reads DATABASE_URL.
   */
  database: PipelineConfig<A> extends { db: DatabaseEnv } ? true : false;
  /**
   * The app keeps doing its work while Postgres is down (ingest serves known subscriptions from
   * its cache), so Postgres is left out of its readiness: an unready pod gets no traffic at all.
   */
  readyWithoutDatabase?: boolean;
  /** A KafkaPublisher, connected before the app serves. */
  publishes: boolean;
  /** The app's own settings of its KafkaPublisher (ingest's message size limit). */
  publisherOptions?(config: PipelineConfig<A>): KafkaPublisherOptions;
  /**
   * Logical topics the module's `@EventPattern` handlers consume through `KafkaConsumerServer`;
   * each message is decoded and checked against its topic's contract (`messageDecoder`) first,
   * and what cannot be handled is dead-lettered through a KafkaPublisher (provided even when the
   * app does not publish).
   */
  consumes?: PipelineConfig<A> extends { consumer: ConsumerEnv } ? string[] : never;
  /**
   * The app's own readiness checks, which `module` must provide and export. The checks of the
   * database, producer and consumer are added by the bootstrap.
   */
  readiness?: Type<ReadinessCheck>[];
  /** Ingest's HTTP needs: Nest's body parser off (signatures need raw bytes) and its own setup. */
  http?: {
    bodyParser: boolean;
    configure(app: NestExpressApplication, config: PipelineConfig<A>): void;
  };
  /** Extra fields for the `<name> started` line. */
  startedFields?(config: PipelineConfig<A>): Record<string, unknown>;
}

/** The parts of configuration every pipeline app's config has (or may have), as the bootstrap reads them. */
interface PipelineConfigShape {
  readonly kafka: Readonly<KafkaEnv>;
  readonly http: Readonly<HttpEnv>;
  readonly startup: Readonly<StartupEnv>;
  readonly db?: Readonly<DatabaseEnv>;
  readonly consumer?: Readonly<ConsumerEnv>;
}

export interface CreatedPipelineApp<A extends PipelineAppName> {
  app: NestExpressApplication;
  config: PipelineConfig<A>;
  /** The consumer group, when the app consumes. */
  groupId?: string;
}

/**
 * Builds a pipeline app the way production runs it, short of listening: validates `env`, waits
 * for Postgres and Kafka (one short line per failed attempt, then a `DependencyUnavailableError`),
 * opens the database and checks its schema is current, and creates the Nest application with the
 * consumer transport connected. Tests call `app.init()` on the result; `runPipelineApp` listens.
 */
export async function createPipelineApp<A extends PipelineAppName>(
  definition: PipelineApp<A>,
  env: Record<string, string | undefined>,
  { logger }: { logger: LoggerService | false },
): Promise<CreatedPipelineApp<A>> {
  const config: PipelineConfig<A> = loadAppConfig(definition.name, env);
  const shape = config as PipelineConfigShape;
  // Every metric is labelled app="<name>"; the process's CPU, memory and event loop are measured.
  startProcessMetrics(definition.name);
  const clientId = `asana-stream-${definition.name}`;
  const databaseUrl = definition.database ? shape.db?.DATABASE_URL : undefined;

  const dependencies: StartupDependency[] = [kafkaDependency(shape.kafka.KAFKA_BROKERS, clientId)];
  if (databaseUrl) dependencies.unshift(postgresDependency(databaseUrl));
  await waitForDependencies(dependencies, {
    attempts: shape.startup.STARTUP_CONNECT_ATTEMPTS,
    intervalMs: shape.startup.STARTUP_CONNECT_INTERVAL_MS,
    logger: logger === false ? undefined : logger,
  });

  const dataSource = databaseUrl ? await openCurrentDatabase(databaseUrl) : undefined;
  let groupId: string | undefined;
  let consumer: KafkaConsumerServer | undefined;
  const kafkaClient = () => createKafkaClient({ brokers: shape.kafka.KAFKA_BROKERS, clientId });
  // One producer per app: what it publishes and what its consumer dead-letters share the queue.
  const publisher =
    definition.publishes || definition.consumes
      ? new KafkaPublisher(kafkaClient(), definition.publisherOptions?.(config))
      : undefined;
  if (definition.consumes) {
    groupId = consumerGroupId(shape.kafka.KAFKA_TOPIC_PREFIX, definition.name, shape.consumer?.CONSUMER_GROUP_SUFFIX);
    consumer = new KafkaConsumerServer({
      kafka: kafkaClient(),
      groupId,
      names: new TopicNames(shape.kafka.KAFKA_TOPIC_PREFIX),
      topics: definition.consumes,
      decoders: Object.fromEntries(definition.consumes.map((topic) => [topic, messageDecoder(topic)])),
      deadLetters: publisher,
      keyConcurrency: shape.consumer?.CONSUMER_KEY_CONCURRENCY,
    });
  }

  let app: NestExpressApplication;
  try {
    const root = PipelineModule.forRoot({
      config: shape,
      module: definition.module,
      readiness: definition.readiness ?? [],
      publishes: definition.publishes,
      publisher,
      consumer,
      deadLetterDepth: definition.consumes
        ? new DeadLetterDepthGauge(
            kafkaClient().admin(),
            new TopicNames(shape.kafka.KAFKA_TOPIC_PREFIX),
            definition.consumes,
          )
        : undefined,
      dataSource,
      databaseInReadiness: !definition.readyWithoutDatabase,
    });
    // abortOnError: false hands a failure to the caller (runApp's one fatal line) instead of
    // Nest calling process.exit(1) itself.
    app = await NestFactory.create<NestExpressApplication>(root, {
      logger,
      bodyParser: definition.http?.bodyParser ?? true,
      abortOnError: false,
    });
  } catch (error) {
    await dataSource?.destroy();
    throw error;
  }
  definition.http?.configure(app, config);
  if (consumer) {
    // A config of its own: the HTTP app's filters are not for Kafka handlers, and the consumer's
    // filter (handler errors reach the transport whole, to be classified) is not for HTTP. Nest
    // fixes each handler's filters when it registers the listeners, which connectMicroservice
    // does at once unless deferred: so deferred, the filter added, then what it would have done.
    const microservice = app.connectMicroservice(
      { strategy: consumer },
      { inheritAppConfig: false, deferInitialization: true },
    );
    microservice.useGlobalFilters(new KafkaConsumerErrorFilter());
    if (!(microservice instanceof NestMicroservice)) throw new Error('connectMicroservice gave no NestMicroservice');
    microservice.registerListeners();
    microservice.setIsInitialized(true);
    microservice.setIsInitHookCalled(true);
  }
  return { app, config, groupId };
}

async function openCurrentDatabase(databaseUrl: string): Promise<DataSource> {
  const dataSource = createDataSource(databaseUrl);
  await dataSource.initialize();
  try {
    await assertSchemaCurrent(dataSource);
    return dataSource;
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
}

/**
 * A pipeline app's whole `main`: `--help`, then `createPipelineApp`, shutdown hooks (SIGTERM
 * drains the consumer and the server), the consumer, the HTTP server on PORT, and the
 * `<name> started` line; any startup failure ends in one fatal line and a non-zero exit.
 * `env` and `argv` are the process's: libs never read them themselves.
 */
export function runPipelineApp<A extends PipelineAppName>(
  definition: PipelineApp<A>,
  { env, argv }: { env: Record<string, string | undefined>; argv: string[] },
): Promise<void> {
  const heapGrowingPercent = tuneHeapGrowth();
  return runApp(
    definition.name,
    async (logger) => {
      const { app, config, groupId } = await createPipelineApp(definition, env, { logger });
      const { http } = config as PipelineConfigShape;
      app.enableShutdownHooks();
      await app.startAllMicroservices();
      await app.listen(http.PORT, http.HOST);
      return {
        port: http.PORT,
        ...(groupId ? { groupId } : {}),
        ...(heapGrowingPercent === undefined ? {} : { heapGrowingPercent }),
        ...definition.startedFields?.(config),
      };
    },
    { env, argv, help: envHelp(definition.name, definition.summary) },
  );
}
