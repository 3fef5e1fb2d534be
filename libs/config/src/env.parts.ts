import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min } from 'class-validator';
import { Sensitive } from './sensitive';

/*
 * The pieces every app's configuration is built from. Each piece reads the same environment;
 * an app names the pieces it needs (see app-configs.ts) and `loadConfig` validates them together.
 * Defaults point at this machine: a local broker, the local Postgres, no telemetry export.
 */

const BROKER_LIST = /^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/;

export class LogEnv {
  @IsIn(['debug', 'info', 'warn', 'error'], { message: 'must be one of debug, info, warn, error' })
  LOG_LEVEL: 'debug' | 'info' | 'warn' | 'error' = 'info';
}

export class KafkaEnv {
  /** Comma-separated `host:port` list of bootstrap brokers. */
  @Matches(BROKER_LIST, { message: 'must be a comma-separated list of host:port, e.g. 127.0.0.1:9092' })
  KAFKA_BROKERS = '127.0.0.1:9092';

  /** Prepended to every topic and consumer group name, so installations (or test runs) can share a cluster. */
  @Matches(/^[a-zA-Z0-9._-]*$/, { message: 'may hold only letters, digits, ".", "_" and "-"' })
  KAFKA_TOPIC_PREFIX = '';
}

export class DatabaseEnv {
  @IsUrl(
    { protocols: ['postgres', 'postgresql'], require_tld: false, require_protocol: true },
    { message: 'must be a postgres:// URL, e.g. postgres://postgres@127.0.0.1:5432/asana_stream' },
  )
  @Sensitive()
  DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/asana_stream';
}

export class HttpEnv {
  /** Port of the app's HTTP server (webhooks for ingest; health and metrics for every app). */
  @Type(() => Number)
  @IsInt({ message: 'must be an integer port number' })
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';
}

export class AsanaApiEnv {
  /** Asana's REST base URL; the simulator's in tests and the demo. */
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['http', 'https'] },
    { message: 'must be an http(s) URL such as https://app.asana.com/api/1.0' },
  )
  ASANA_BASE_URL = 'https://app.asana.com/api/1.0';

  /** A personal access token or OAuth access token for Asana's API. */
  @IsString({ message: 'is required: set a personal access token or OAuth access token' })
  @Matches(/\S/, { message: 'must not be empty: set a personal access token or OAuth access token' })
  @Sensitive()
  ASANA_TOKEN!: string;
}

export class AsanaPacingEnv {
  /**
   * Requests a minute this process may make to Asana's API. Asana's budget is per token (150 a
   * minute on free domains, 1,500 on paid) and shared by every replica using it: give each
   * replica its share. A 429 pauses requests for Asana's Retry-After whatever this says.
   */
  @Type(() => Number)
  @IsInt()
  @Min(6, { message: 'must be at least 6 (requests are counted in 10-second windows)' })
  @Max(100_000)
  ASANA_REQUESTS_PER_MINUTE = 1500;
}

export class IngestEnv {
  /**
   * Asana gives a receiver 10 s; a request still open after this is answered 503 so Asana
   * retries instead of counting a timeout, and Node's 300 s default never applies.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  @Max(10_000)
  INGEST_REQUEST_TIMEOUT_MS = 9000;

  /** Largest delivery body accepted, in bytes. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  INGEST_MAX_BODY_BYTES = 10 * 1024 * 1024;
}

export class ConsumerEnv {
  /** Consumer group id suffix; the full id is `<prefix><app>-<suffix>`. */
  @IsOptional()
  @Matches(/^[a-zA-Z0-9._-]+$/)
  CONSUMER_GROUP_SUFFIX?: string;
}

export class FanoutEnv {
  /** Fallback poll of the outbox when no NOTIFY arrives (NOTIFY is best-effort). */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  FANOUT_POLL_INTERVAL_MS = 1000;

  /** Rows claimed per relay transaction. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  FANOUT_BATCH_SIZE = 500;
}

export class WebhookAdminEnv {
  /**
   * The public base URL Asana posts deliveries to (ingest's address as Asana sees it);
   * a webhook's target is `<base>/webhooks/asana/<subscription id>`.
   */
  @IsUrl(
    { require_tld: false, require_protocol: true, protocols: ['http', 'https'] },
    { message: 'must be the http(s) URL Asana can reach ingest at, e.g. https://asana-stream.example.com' },
  )
  INGEST_PUBLIC_URL = 'http://127.0.0.1:3000';
}

export class StartupEnv {
  /**
   * Times each dependency (Postgres, Kafka) is tried at startup before the app gives up and exits
   * 1, saying what it could not reach. With the default interval that is about 30 s of trying,
   * well inside the 60 s the Kubernetes startup probes allow.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  STARTUP_CONNECT_ATTEMPTS = 10;

  /**
   * Milliseconds from the start of one attempt to the start of the next; an attempt that has no
   * answer within this (or 1 s, whichever is longer) counts as failed.
   */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(60_000)
  STARTUP_CONNECT_INTERVAL_MS = 3000;
}
