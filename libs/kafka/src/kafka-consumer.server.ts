import { Logger, type LoggerService } from '@nestjs/common';
import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { DEFAULT_PARTITIONS, deadLetterTopic, parseMessage, type TopicNames } from '@asana-stream/contracts';
import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import type { ConsumerPatternExtras } from './consumed-message';
import { ConsumerHealth, type ConsumerStatus } from './consumer-health';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { consumerMetricsOf, forgetConsumer, watchConsumer } from './kafka-metrics';
import type { KafkaPublisher } from './kafka-publisher';
import { OffsetCommitter } from './offset-committer';
import { PartitionBatchRun, type BatchProcessorDeps, type TopicBinding } from './partition-batch.processor';
import { RetryPolicy, type RetryOptions } from './retry-policy';

export interface KafkaConsumerServerOptions {
  kafka: Kafka;
  groupId: string;
  names: TopicNames;
  /** Logical topic names; each must have an `@EventPattern(name)` handler. */
  topics: string[];
  /**
   * Per logical topic, what turns a record's value into its handler's payload, throwing for a
   * value that is not one (`messageDecoder` of `@asana-stream/contracts`: JSON and the topic's
   * contract). A message that does not decode is dead-lettered before any handler sees it.
   * Topics without one are only parsed as JSON (secure-json-parse).
   */
  decoders?: Readonly<Record<string, (bytes: Buffer | null) => unknown>>;
  /**
   * Where dead-lettered messages are published (`<prefix><topic>.dlq`), acks=all, before their
   * offsets are resolved. Without one, a message that would be dead-lettered halts instead.
   */
  deadLetters?: Pick<KafkaPublisher, 'publish'>;
  /** Partitions whose batches run at once. Default: 6 (`DEFAULT_PARTITIONS`) per topic. */
  partitionsConsumedConcurrently?: number;
  /** Keys of one partition batch handled at once, each key's messages in order. Default 4. */
  keyConcurrency?: number;
  /** Most messages one call of a batch handler gets. Default 500. */
  maxBatchMessages?: number;
  retry?: RetryOptions;
  /**
   * The group coordinator replaces a member silent for this long (kill -9, a lost node).
   * Default 10 s; the broker accepts 6 s (group.min.session.timeout.ms) to 30 min.
   */
  sessionTimeoutMs?: number;
  /** Default 1 s: a rebalance is noticed within about a second. */
  heartbeatIntervalMs?: number;
  /** How long the coordinator waits for members to rejoin in a rebalance. Default 20 s. */
  rebalanceTimeoutMs?: number;
  /** How long a fetch waits for data when there is none. Default 1 s (kafkajs: 5 s). */
  maxWaitTimeMs?: number;
  /** A long batch commits what it has resolved at most this often. Default 5 s. */
  commitIntervalMs?: number;
  /**
   * `close()` gives up on a clean stop after this long (Kubernetes' grace period is 30 s).
   * Default 20 s.
   */
  shutdownTimeoutMs?: number;
  /** At close or a rebalance, how long handlers already running may still finish. Default 10 s. */
  abortGraceMs?: number;
  /** No answer from the broker for this long makes the consumer unready. Default 10 s. */
  contactTimeoutMs?: number;
  logger?: LoggerService;
}

/**
 * A Nest transport on kafkajs (`eachBatch`) that commits an offset only once the output of its
 * message and of every message before it on the partition is durable: the handler resolved, or
 * the message is acknowledged by the dead-letter topic. Handlers stay ordinary `@EventPattern`s
 * keyed by logical topic; `@EventPattern(topic, { batch: true })` takes a partition's messages
 * at once. Partitions run in parallel, and within one, different keys do, while each key's
 * messages run in offset order (see `PartitionBatchRun`). Failures are acted on by their
 * disposition (`classifyError`): retried with backoff, dead-lettered to `<topic>.dlq`, or halted.
 *
 * Register `KafkaConsumerErrorFilter` on the microservice, or Nest replaces every handler error
 * by an opaque one and all failures count as UNKNOWN.
 */
export class KafkaConsumerServer extends Server implements CustomTransportStrategy {
  private readonly log: LoggerService;
  private readonly health: ConsumerHealth;
  private consumer?: Consumer;
  private readonly closing = new AbortController();
  private readonly running = new Set<AbortController>();
  private closed?: Promise<void>;
  private readonly settings: Required<
    Omit<
      KafkaConsumerServerOptions,
      'kafka' | 'groupId' | 'names' | 'topics' | 'decoders' | 'deadLetters' | 'retry' | 'logger'
    >
  >;

  constructor(private readonly options: KafkaConsumerServerOptions) {
    super();
    this.log = options.logger ?? new Logger(KafkaConsumerServer.name);
    this.settings = {
      partitionsConsumedConcurrently:
        options.partitionsConsumedConcurrently ?? DEFAULT_PARTITIONS * options.topics.length,
      keyConcurrency: options.keyConcurrency ?? 4,
      maxBatchMessages: options.maxBatchMessages ?? 500,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 20_000,
      maxWaitTimeMs: options.maxWaitTimeMs ?? 1000,
      commitIntervalMs: options.commitIntervalMs ?? 5000,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 20_000,
      abortGraceMs: options.abortGraceMs ?? 10_000,
      contactTimeoutMs: options.contactTimeoutMs ?? 10_000,
    };
    this.health = new ConsumerHealth(
      { contactTimeoutMs: this.settings.contactTimeoutMs, haltLogIntervalMs: 60_000 },
      this.log,
    );
  }

  get consumerStatus(): ConsumerStatus {
    return this.health.status;
  }

  /** Null when the consumer is running, hears from the broker and nothing is halted; else why not. */
  readinessProblem(): string | null {
    return this.health.readinessProblem();
  }

  /** A reason only a restart helps (kafkajs will not restart the consumer), else null. */
  fatalProblem(): string | null {
    return this.health.fatalProblem();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  private bindings(): Map<string, TopicBinding> {
    const { names, topics, decoders = {}, deadLetters } = this.options;
    const bindings = new Map<string, TopicBinding>();
    for (const logical of topics) {
      const handler: MessageHandler | null = this.getHandlerByPattern(logical);
      if (!handler) throw new Error(`no @EventPattern('${logical}') handler is registered`);
      const extras = (handler.extras ?? {}) as ConsumerPatternExtras;
      const physical = names.physical(logical);
      bindings.set(physical, {
        logical,
        physical,
        handler,
        batch: extras.batch === true,
        decode: decoders[logical] ?? ((bytes) => parseMessage(logical, bytes)),
        deadLetterTopic: deadLetters ? names.physical(deadLetterTopic(logical).name) : null,
      });
    }
    return bindings;
  }

  private async start(): Promise<void> {
    const { kafka, groupId, topics } = this.options;
    const settings = this.settings;
    const bindings = this.bindings();
    const deps: BatchProcessorDeps = {
      retry: new RetryPolicy(this.options.retry),
      deadLetters: this.options.deadLetters ? new DeadLetterPublisher(this.options.deadLetters) : null,
      health: this.health,
      log: this.log,
      keyConcurrency: settings.keyConcurrency,
      maxBatchMessages: settings.maxBatchMessages,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      committer: new OffsetCommitter(this.log),
      commitIntervalMs: settings.commitIntervalMs,
      abortGraceMs: settings.abortGraceMs,
      onPartitionsLost: (error) => this.abortRunning(error),
    };
    const consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
    });
    this.consumer = consumer;
    this.watch(consumer);
    watchConsumer(groupId, this.health);
    await consumer.connect();
    // A new group starts at the latest offset unless told otherwise: read from the beginning.
    await consumer.subscribe({ topics: [...bindings.keys()], fromBeginning: true });
    await consumer.run({
      // Only done messages are ever resolved (eachBatchAutoResolve off), and the OffsetCommitter
      // commits them without holding the next fetch (kafkajs' autoCommit would, once per batch).
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: settings.partitionsConsumedConcurrently,
      eachBatch: (payload) => this.runBatch(payload, bindings.get(payload.batch.topic), deps),
    });
    this.health.contact();
    // kafkajs reports a failure to join as a crash (run() still resolves): keep what it said.
    if (this.health.status === 'starting') this.health.setStatus('running');
    this.log.log({ msg: 'consumer running', groupId, topics, ...settings });
  }

  private async runBatch(
    payload: EachBatchPayload,
    binding: TopicBinding | undefined,
    deps: BatchProcessorDeps,
  ): Promise<void> {
    if (!binding) throw new Error(`no handler for topic ${payload.batch.topic}`);
    if (this.closing.signal.aborted) return;
    const controller = new AbortController();
    this.running.add(controller);
    try {
      await new PartitionBatchRun(payload, binding, deps, controller.signal).run();
    } finally {
      this.running.delete(controller);
    }
  }

  /** Ends every batch in flight: the server closes, or this member lost its partitions. */
  private abortRunning(reason: unknown): void {
    for (const controller of this.running) controller.abort(reason);
  }

  /** Keeps the health in step with kafkajs: broker answers, crashes, restarts. */
  private watch(consumer: Consumer): void {
    const { HEARTBEAT, FETCH, COMMIT_OFFSETS, GROUP_JOIN, CRASH, DISCONNECT } = consumer.events;
    const contact = () => this.health.contact();
    consumer.on(HEARTBEAT, contact);
    consumer.on(FETCH, contact);
    consumer.on(COMMIT_OFFSETS, contact);
    consumer.on(GROUP_JOIN, ({ payload }) => {
      contact();
      if (this.health.status === 'restarting') this.health.setStatus('running');
      // Partitions that moved to another member are its to report.
      this.keepLagOf(payload.memberAssignment);
    });
    consumer.on(CRASH, ({ payload }) => {
      if (this.closing.signal.aborted) return;
      const error = classifyError(payload.error);
      // kafkajs restarts the consumer itself after a retriable error; one that will not restart
      // is marked crashed so the liveness probe fails and Kubernetes replaces the pod.
      this.health.setStatus(payload.restart ? 'restarting' : 'crashed', `${error.code}: ${error.message}`);
      this.log.error({
        msg: 'consumer crashed',
        groupId: this.options.groupId,
        restart: payload.restart,
        error: error.toJSON(),
      });
    });
    consumer.on(DISCONNECT, () => {
      if (!this.closing.signal.aborted && this.health.status === 'running') {
        this.health.setStatus('restarting', 'disconnected from the broker');
      }
    });
  }

  /**
   * Stops within `shutdownTimeoutMs`: handlers' signals abort (waits end at once), no new batch
   * starts, handlers already running get `abortGraceMs` to finish, what is done is committed,
   * and the member leaves the group so its partitions move at once.
   */
  close(): Promise<void> {
    this.closed ??= this.stop();
    return this.closed;
  }

  /** Keeps the lag gauges of the partitions this member owns, of each topic it consumes. */
  private keepLagOf(assignment: Readonly<Record<string, readonly number[] | undefined>>): void {
    for (const logical of this.options.topics) {
      const topic = this.options.names.physical(logical);
      consumerMetricsOf(topic).keepLagOf(assignment[topic] ?? []);
    }
  }

  private async stop(): Promise<void> {
    const reason = new AsanaStreamError('ABORTED', 'the consumer is closing');
    this.closing.abort(reason);
    this.abortRunning(reason);
    this.health.setStatus('stopped');
    forgetConsumer(this.options.groupId, this.health);
    this.keepLagOf({});
    if (!this.consumer) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.settings.shutdownTimeoutMs);
    });
    const disconnected = this.consumer.disconnect().then(
      () => false,
      (error: unknown) => {
        this.log.warn({ msg: 'consumer did not disconnect cleanly', error: classifyError(error).toJSON() });
        return false;
      },
    );
    try {
      if (await Promise.race([disconnected, timedOut])) {
        this.log.warn({
          msg: 'consumer still stopping after the shutdown timeout; leaving it',
          timeoutMs: this.settings.shutdownTimeoutMs,
        });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  on(): never {
    throw new Error('KafkaConsumerServer emits no events; watch consumerStatus instead');
  }

  unwrap<T>(): T {
    if (!this.consumer) throw new Error('the consumer starts with listen()');
    return this.consumer as T;
  }
}
