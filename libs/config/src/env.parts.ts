import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Matches, Max, Min, ValidateBy } from 'class-validator';
import { Sensitive } from './sensitive';
import { describeKeyRingProblem } from './webhook-secret-cipher';

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
   * Requests a minute to Asana's API. Asana's budget is per token (150 a minute on free domains,
   * 1,500 on paid): with ASANA_BUDGET_DATABASE_URL set this is the token's whole budget, shared
   * by every replica counting in that database; without it, this process's own (then give each
   * replica its share). A 429 pauses requests for Asana's Retry-After whatever this says.
   */
  @Type(() => Number)
  @IsInt()
  @Min(6, { message: 'must be at least 6 (requests are counted in 10-second windows)' })
  @Max(1_000_000)
  ASANA_REQUESTS_PER_MINUTE = 1500;

  /**
   * Postgres where the replicas of one token count its request budget together (table
   * `asana_request_budget`, created by `asana-stream setup` / `db migrate`). Unset: each process
   * counts its own budget in memory.
   */
  @IsOptional()
  @IsUrl(
    { protocols: ['postgres', 'postgresql'], require_tld: false, require_protocol: true },
    { message: 'must be a postgres:// URL, e.g. postgres://postgres@127.0.0.1:5432/asana_stream' },
  )
  @Sensitive()
  ASANA_BUDGET_DATABASE_URL?: string;

  /**
   * Requests a minute this process may make while the shared budget's Postgres cannot be asked:
   * its share of the token's budget, so that every replica falling back at once stays within it
   * (the default: 1,500 shared by the enricher's 6 replicas at most).
   */
  @Type(() => Number)
  @IsInt()
  @Min(6, { message: 'must be at least 6 (requests are counted in 10-second windows)' })
  @Max(1_000_000)
  ASANA_FALLBACK_REQUESTS_PER_MINUTE = 250;

  /**
   * Asana requests this process has in flight at most (different gids fetched at once; one gid's
   * events stay in order). Asana allows a token 50 reads at once, across replicas.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  ENRICHER_MAX_IN_FLIGHT = 50;
}

/**
 * Bytes a raw delivery's Kafka record needs beside its body: the record and batch framing, the
 * delivery's metadata headers, the Asana headers kept (each at most 256 bytes) and the trace
 * context added at send (W3C limits baggage to 8,192 bytes).
 */
export const RAW_DELIVERY_RECORD_RESERVE_BYTES = 16 * 1024;

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

  /**
   * The largest record batch the broker accepts for ingest's topics: the topics'
   * `max.message.bytes` (Kafka's default, 1,048,588; raise both together). A delivery whose
   * messages would not fit is answered 413 before anything is published.
   */
  @Type(() => Number)
  @IsInt()
  @Min(64 * 1024)
  @Max(100 * 1024 * 1024)
  KAFKA_MAX_MESSAGE_BYTES = 1_048_588;

  /**
   * Largest delivery body accepted, in bytes; a larger one is answered 413 unread. The raw
   * delivery is one Kafka message holding the whole body, so this must leave room for the
   * record's headers: at most KAFKA_MAX_MESSAGE_BYTES - 16384 (ingest's publisher takes a message
   * up to KAFKA_MAX_MESSAGE_BYTES as one record batch).
   */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @ValidateBy({
    name: 'fitsOneKafkaMessage',
    validator: {
      validate: (value: unknown, args) =>
        typeof value === 'number' && value <= maxBodyFor((args?.object as IngestEnv).KAFKA_MAX_MESSAGE_BYTES),
      defaultMessage: (args) =>
        `must be at most KAFKA_MAX_MESSAGE_BYTES - ${RAW_DELIVERY_RECORD_RESERVE_BYTES} ` +
        `(${maxBodyFor((args?.object as IngestEnv).KAFKA_MAX_MESSAGE_BYTES)}): a raw delivery is one Kafka message`,
    },
  })
  INGEST_MAX_BODY_BYTES = 983_040;

  /**
   * How long a subscription looked up in Postgres is trusted: a new, changed or deleted
   * subscription takes effect within this. The subscriptions with deliveries in the last 10
   * minutes are looked up again every half of it, together, so their deliveries never wait for
   * Postgres. While Postgres does not answer, a subscription known within the last 10 minutes is
   * still served from the cache. 0 reads Postgres on every delivery.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(60_000)
  INGEST_SUBSCRIPTION_CACHE_MS = 5000;
}

function maxBodyFor(kafkaMaxMessageBytes: unknown): number {
  return typeof kafkaMaxMessageBytes === 'number' ? kafkaMaxMessageBytes - RAW_DELIVERY_RECORD_RESERVE_BYTES : NaN;
}

export class ConsumerEnv {
  /** Consumer group id suffix; the full id is `<prefix><app>-<suffix>`. */
  @IsOptional()
  @Matches(/^[a-zA-Z0-9._-]+$/)
  CONSUMER_GROUP_SUFFIX?: string;

  /**
   * Keys (gids) of one partition handled at once; each key's messages still run one after
   * another, in order. The partitions (6) run in parallel too, so a replica has up to
   * 6 × this many messages in hand: for the enricher, Asana requests in flight (Asana allows a
   * token 50 reads at once, across replicas).
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  CONSUMER_KEY_CONCURRENCY = 4;
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

  /**
   * Relay transactions one fanout runs side by side under a backlog (one otherwise). Each claims
   * gids no other holds, as replicas do, so one publishes to Kafka while another claims or commits.
   * Each holds one of the app's 10 database connections while it runs, so at most 8: the Events
   * API and the gauges keep connections of their own.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(8)
  FANOUT_RELAY_CONCURRENCY = 3;

  /**
   * Hours a published (or discarded) outbox row is kept before the relay's retention job deletes
   * it, in bounded chunks. Unpublished and parked rows are never deleted.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(24 * 366)
  FANOUT_RETENTION_HOURS = 168;
}

export class EventsApiEnv {
  /** Longest long-poll a `GET /events?wait=` may ask for, in seconds. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(300)
  EVENTS_API_MAX_WAIT_SECONDS = 30;

  /** Most changes one `GET /events` page may ask for (`limit=`); the default page is 100. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  EVENTS_API_MAX_LIMIT = 1000;

  /**
   * How often a quiet Server-Sent Events stream gets a comment line, so proxies and load balancers
   * keep it open (most close an idle connection after 30 to 60 s).
   */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(300_000)
  EVENTS_API_HEARTBEAT_MS = 15_000;
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

export class EventsFollowerEnv {
  /**
   * Whether the enricher reconciles: follows Asana's Events API for every resource a subscription
   * watches, publishing the events its webhook lost, and resyncs those resources when asked, after
   * a 412 and on schedule (`false`: webhooks only).
   */
  @IsIn(['true', 'false'], { message: 'must be true or false' })
  EVENTS_FOLLOW: 'true' | 'false' = 'true';

  /** How often each watched resource's events are read. Each read is one Asana request per page. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  EVENTS_POLL_INTERVAL_MS = 30_000;

  /**
   * How often every watched resource is resynced in full (its contents listed and compared with the
   * projection), besides the resyncs a 412 or `asana-stream reconcile` asks for. Default a day.
   */
  @Type(() => Number)
  @IsInt()
  @Min(60_000)
  @Max(30 * 86_400_000)
  RESYNC_FULL_INTERVAL_MS = 86_400_000;

  /**
   * How often each watched project gets a light sweep between full resyncs: one request
   * (`GET /tasks?project=&modified_since=`) lists the tasks Asana modified since the last sweep
   * (less a minute of overlap), and what Postgres lacks or holds older is repaired. It cannot see
   * deleted tasks; the full resync does. 0 turns the scheduled sweeps off (`reconcile --since`
   * still runs one). Default 15 minutes.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  RESYNC_SWEEP_INTERVAL_MS = 900_000;

  /**
   * How often each active subscription's webhook is looked up in Asana (`GET /webhooks/{gid}`):
   * one Asana deleted is created again (through ingest at INGEST_PUBLIC_URL) and its resource
   * resynced; one failing or silent for longer than Asana's heartbeat interval gets a resync.
   */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  WEBHOOK_CHECK_INTERVAL_MS = 300_000;
}

/** Validates WEBHOOK_SECRET_KEYS as a key ring, with a message that never shows a key. */
function IsWebhookSecretKeyRing(): PropertyDecorator {
  return ValidateBy({
    name: 'webhookSecretKeyRing',
    validator: {
      validate: (value: unknown) => describeKeyRingProblem(value) === undefined,
      defaultMessage: (args) => describeKeyRingProblem(args?.value) ?? 'is not a key ring',
    },
  });
}

export class WebhookSecretsEnv {
  /**
   * The keys webhook secrets are encrypted with at rest (AES-256-GCM): `<id>:<base64 of 32
   * bytes>` entries separated by commas. The first encrypts; every one listed decrypts, so a new
   * key goes first and the old one stays until `asana-stream secrets reencrypt` has run.
   * `asana-stream secrets generate-key` prints an entry. ingest, the enricher and the cli must
   * share it.
   */
  @IsWebhookSecretKeyRing()
  @Sensitive()
  WEBHOOK_SECRET_KEYS!: string;
}

/**
 * The cli's WEBHOOK_SECRET_KEYS: only the commands that read or write a webhook secret
 * (`webhooks create`/`rotate`, `secrets reencrypt`) need it, and they say so when it is unset.
 */
export class CliWebhookSecretsEnv {
  /** As WebhookSecretsEnv's; validated whenever it is set. */
  @IsOptional()
  @IsWebhookSecretKeyRing()
  @Sensitive()
  WEBHOOK_SECRET_KEYS?: string;
}
