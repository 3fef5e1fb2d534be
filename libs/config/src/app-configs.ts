import {
  AsanaApiEnv,
  AsanaPacingEnv,
  CliWebhookSecretsEnv,
  ConsumerEnv,
  DatabaseEnv,
  EventsApiEnv,
  EventsFollowerEnv,
  FanoutEnv,
  HttpEnv,
  IngestEnv,
  KafkaEnv,
  LogEnv,
  StartupEnv,
  WebhookAdminEnv,
  WebhookSecretsEnv,
} from './env.parts';
import { loadConfig, type ConfigOf } from './load-config';

/** Which pieces of configuration each app reads. Everything an app reads is listed here. */
export const APP_CONFIG_PARTS = {
  ingest: {
    log: LogEnv,
    kafka: KafkaEnv,
    db: DatabaseEnv,
    http: HttpEnv,
    ingest: IngestEnv,
    secrets: WebhookSecretsEnv,
    startup: StartupEnv,
  },
  enricher: {
    log: LogEnv,
    kafka: KafkaEnv,
    db: DatabaseEnv,
    http: HttpEnv,
    asana: AsanaApiEnv,
    pacing: AsanaPacingEnv,
    follower: EventsFollowerEnv,
    webhooks: WebhookAdminEnv,
    secrets: WebhookSecretsEnv,
    consumer: ConsumerEnv,
    startup: StartupEnv,
  },
  projector: {
    log: LogEnv,
    kafka: KafkaEnv,
    db: DatabaseEnv,
    http: HttpEnv,
    consumer: ConsumerEnv,
    startup: StartupEnv,
  },
  fanout: {
    log: LogEnv,
    kafka: KafkaEnv,
    db: DatabaseEnv,
    http: HttpEnv,
    fanout: FanoutEnv,
    events: EventsApiEnv,
    startup: StartupEnv,
  },
  cli: {
    log: LogEnv,
    kafka: KafkaEnv,
    db: DatabaseEnv,
    asana: AsanaApiEnv,
    webhooks: WebhookAdminEnv,
    secrets: CliWebhookSecretsEnv,
  },
} as const;

export type AppName = keyof typeof APP_CONFIG_PARTS;
export type IngestConfig = ConfigOf<(typeof APP_CONFIG_PARTS)['ingest']>;
export type EnricherConfig = ConfigOf<(typeof APP_CONFIG_PARTS)['enricher']>;
export type ProjectorConfig = ConfigOf<(typeof APP_CONFIG_PARTS)['projector']>;
export type FanoutConfig = ConfigOf<(typeof APP_CONFIG_PARTS)['fanout']>;
export type CliConfig = ConfigOf<(typeof APP_CONFIG_PARTS)['cli']>;

/** Validates `env` for one app; throws a ConfigError naming every bad variable. */
export function loadAppConfig<A extends AppName>(app: A, env: Record<string, string | undefined>) {
  return loadConfig(APP_CONFIG_PARTS[app], env);
}

/** Injection token of an app's validated configuration. */
export const APP_CONFIG = Symbol('APP_CONFIG');
