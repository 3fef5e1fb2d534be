import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  type Admin,
  type IHeaders,
  type Kafka,
  type Message,
  type Producer,
  type ProducerConfig,
  type TopicMessages,
} from 'kafkajs';
import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import { secondsSince } from '@asana-stream/metrics';
import { producerRecoveries, publishMetricsOf, requestMetrics } from './kafka-metrics';
import { KeyPartitioner } from './key-partitioner';
import { MicroBatcher } from './micro-batcher';
import { recordBatchOver, recordBytes, type SizedMessage } from './record-size';

/** Limits and timings of a `KafkaPublisher`; every field has a default. */
export interface KafkaPublisherOptions {
  /** How long a batch that is not full waits for more messages (default 0: it goes at once). */
  lingerMs?: number;
  /** Messages per request at most (default 1,000). */
  maxBatchMessages?: number;
  /**
   * Bytes per request at most (default 900,000), as `recordBytes` counts them; a single
   * larger message goes alone. Below the broker's `message.max.bytes` (1 MiB by default), which
   * bounds each partition's part of a request.
   */
  maxBatchBytes?: number;
  /**
   * The largest message accepted (default 1,000,000 bytes as `recordBytes` counts them: key, value, headers and
   * record framing included): a larger one is refused before anything of its publish is sent,
   * since the broker would refuse it (`message.max.bytes`, 1 MiB by default).
   */
  maxMessageBytes?: number;
  /** How long the readiness probe waits for a broker to answer (default 2,000 ms). */
  probeTimeoutMs?: number;
  /** How long a probe's answer is reused (default 2,000 ms). */
  probeCacheMs?: number;
}

const DEFAULTS: Required<KafkaPublisherOptions> = {
  lingerMs: 0,
  maxBatchMessages: 1000,
  maxBatchBytes: 900_000,
  maxMessageBytes: 1_000_000,
  probeTimeoutMs: 2000,
  probeCacheMs: 2000,
};

// kafkajs' default (murmur2, Java-compatible) partitioning, with a faster hash (KeyPartitioner):
// a gid maps to the same partition as it would from any other Kafka client. One request in
// flight: kafkajs' idempotent producer has raised OUT_OF_ORDER_SEQUENCE_NUMBER with several
// (kafkajs#598), and the batcher sends one batch at a time anyway.
const PRODUCER_CONFIG: ProducerConfig = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: KeyPartitioner,
};

/** One message on its way: the caller's message with the caller's trace context in its headers. */
type OutgoingMessage = SizedMessage;

/** What one publish asks for beyond the publisher's own limits. */
export interface PublishOptions {
  /**
   * Refuse the whole publish, sending nothing, when its own messages for one topic partition
   * would make a record batch over `maxBytes` (the broker's `max.message.bytes` bounds each
   * batch, and takes a request's batches one by one: such a batch would fail alone after the
   * others were written). `partitions(topic)`: how many partitions the topic has. The sizes are
   * those sent, the trace headers injected here included.
   */
  wholeRecordBatches?: { maxBytes: number; partitions: (topic: string) => number };
}

/** The latest thing known about whether the producer can send: from a send, a connect or a probe. */
interface Evidence {
  /** When it was true: a probe's start, a send's or connect's end. */
  at: number;
  /** Null when it could send; else why not. */
  problem: string | null;
}

/** The admin client the readiness probe asks for metadata. */
interface ProbeAdmin {
  admin: Admin;
  connected: Promise<void>;
}

interface Probe {
  startedAt: number;
  handle: ProbeAdmin;
  result: Promise<Evidence>;
}

const tracer = trace.getTracer('asana-stream-kafka');

/**
 * The only way the apps write to Kafka: an idempotent producer with acks=all, so a publish
 * resolves only once every in-sync replica has every one of its messages.
 *
 * **Batching.** Publishes from many callers go out together: their messages queue in a
 * `MicroBatcher` and one `sendBatch` is in flight at a time (kafkajs has no linger of its own,
 * and concurrent sends on its idempotent producer have failed, kafkajs#598). While a batch flies,
 * new messages accumulate; the next batch takes them when it returns, within `maxBatchMessages`
 * and `maxBatchBytes`. Each caller's promise settles with its own messages' fate.
 *
 * **Order.** Messages leave in publish order; kafkajs keeps that order per partition inside a
 * request. A failed batch rejects every caller in it and is never sent again by the publisher,
 * and the next batch is sent only after it returned, holding only messages published after its
 * own: nothing overtakes a message the publisher is still to write. A rejected caller that
 * publishes again makes a new publish, queued behind whatever is queued by then. Per key that
 * keeps order because every caller publishes a key's next message only after the previous
 * publish of it resolved: the consumer transport handles one key's messages one after another,
 * the relay publishes row by row, and ingest's retry is Asana's, whose order the versions decide.
 *
 * **Recovery.** After any failed send the producer is disconnected and the next batch goes on a
 * fresh idempotent producer. kafkajs rolls back the sequence numbers of every partition of a
 * failed request, also of partitions the broker did write; with the same producer, the next
 * send to such a partition either fails with OUT_OF_ORDER_SEQUENCE_NUMBER, for good, or reuses
 * the sequence of a written batch, which the broker acknowledges as a duplicate without
 * writing it (kafkajs#1005). A new producer id starts every sequence afresh. Nothing queued is
 * lost: it waits for the fresh producer. If that cannot connect, every queued caller is
 * rejected at once rather than waiting behind connect attempts.
 *
 * **Trace context.** Each caller's messages carry its own context: per caller and topic, a
 * PRODUCER span `send <topic>` is started as a child of the caller's context and injected into
 * that caller's messages (W3C `traceparent`), and ends with the caller's outcome. The kafkajs
 * instrumentation is kept off the shared `sendBatch` (tracing suppressed): it would stamp every
 * message with one context and overwrite ours.
 *
 * **Metrics** (`kafka-metrics.ts`): messages by topic and outcome (acked, failed, refused), requests
 * and their duration by outcome, and producers replaced after a failed send; counted per request
 * and topic, never per message.
 */
export class KafkaPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(KafkaPublisher.name);
  private readonly options: Required<KafkaPublisherOptions>;
  private readonly batcher: MicroBatcher<OutgoingMessage>;
  private state: 'created' | 'running' | 'stopped' = 'created';
  private producer?: Producer;
  /** Why the producer was dropped, until a fresh one connects: logged once, with the recovery. */
  private replacedAfter?: AsanaStreamError;
  private lastSend?: Evidence;
  private lastProbe?: Evidence;
  private probing?: Probe;
  private probeAdmin?: ProbeAdmin;
  /** Probes not yet settled, also those given up on, so shutdown can wait for them. */
  private readonly probes = new Set<Promise<void>>();

  constructor(
    private readonly kafka: Kafka,
    options: KafkaPublisherOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.batcher = new MicroBatcher<OutgoingMessage>({
      send: (batch, callers) => this.send(batch, callers),
      sizeOf: (item) => item.bytes,
      maxBatchItems: this.options.maxBatchMessages,
      maxBatchBytes: this.options.maxBatchBytes,
      lingerMs: this.options.lingerMs,
    });
  }

  async onModuleInit(): Promise<void> {
    const producer = this.kafka.producer(PRODUCER_CONFIG);
    await quietly(() => producer.connect());
    this.producer = producer;
    this.state = 'running';
    this.lastSend = { at: Date.now(), problem: null };
  }

  /** Runs after the HTTP server and consumers have stopped: what is queued is sent first. */
  async onApplicationShutdown(): Promise<void> {
    this.state = 'stopped';
    await this.batcher.idle();
    await this.producer?.disconnect();
    this.producer = undefined;
    await Promise.allSettled([...this.probes]);
    await this.probeAdmin?.admin.disconnect();
    this.probeAdmin = undefined;
  }

  /** Between `onModuleInit` and `onApplicationShutdown`. */
  get isConnected(): boolean {
    return this.state === 'running';
  }

  /**
   * Publishes messages to several topics; resolves once Kafka acknowledged all of them. Rejects
   * with an AsanaStreamError: MESSAGE_TOO_LARGE (dead-letter) at once, with nothing sent, when a
   * message is over `maxMessageBytes` or, when asked, a record batch over
   * `options.wholeRecordBatches`; otherwise the failure of the request that carried its messages.
   * That failure is a retry when the publish may succeed if made again: a fenced producer
   * (replaced already) becomes KAFKA_UNAVAILABLE, and a refusal of a message in a request shared
   * with other publishes keeps its code but is made retriable, since it may be another's.
   */
  publish(topicMessages: TopicMessages[], options: PublishOptions = {}): Promise<void> {
    if (this.state !== 'running') {
      return Promise.reject(new AsanaStreamError('KAFKA_UNAVAILABLE', 'the Kafka publisher is not running'));
    }
    const refused = this.refusal(topicMessages);
    if (refused) {
      countMessages(topicMessages, 'refused');
      return Promise.reject(refused);
    }
    const parent = context.active();
    const spans: Span[] = [];
    const outgoing: OutgoingMessage[] = [];
    for (const { topic, messages } of topicMessages) {
      if (messages.length === 0) continue;
      const span = tracer.startSpan(
        `send ${topic}`,
        { kind: SpanKind.PRODUCER, attributes: spanAttributes(topic, messages) },
        parent,
      );
      spans.push(span);
      const carrier = trace.setSpan(parent, span);
      for (const message of messages) {
        // A copy: the caller's message stays as it was (it may publish it again).
        const headers: IHeaders = { ...message.headers };
        propagation.inject(carrier, headers);
        const stamped = { ...message, headers };
        outgoing.push({ topic, message: stamped, bytes: recordBytes(stamped) });
      }
    }
    const refusedBatch = this.recordBatchRefusal(outgoing, options);
    if (refusedBatch) {
      endSpans(spans, refusedBatch);
      countMessages(topicMessages, 'refused');
      return Promise.reject(refusedBatch);
    }
    const tooLarge = outgoing.find((item) => item.bytes > this.options.maxMessageBytes);
    if (tooLarge) {
      const error = new AsanaStreamError(
        'MESSAGE_TOO_LARGE',
        `a message is larger than Kafka accepts (about ${tooLarge.bytes} bytes, at most ${this.options.maxMessageBytes}); nothing of this publish was sent`,
        { details: { topic: tooLarge.topic, bytes: tooLarge.bytes, maxBytes: this.options.maxMessageBytes } },
      );
      endSpans(spans, error);
      countMessages(topicMessages, 'refused');
      return Promise.reject(error);
    }
    return this.batcher.submit(outgoing).then(
      () => endSpans(spans),
      (error: unknown) => {
        endSpans(spans, error);
        throw error;
      },
    );
  }

  /**
   * Why the producer cannot send now, or null: not running, no broker answered a metadata
   * request within `probeTimeoutMs` (asked at most every `probeCacheMs`), or the last send or
   * connect failed for a reason that is not its messages' own and no broker answered since.
   * Never takes much longer than `probeTimeoutMs`; never throws.
   */
  async readinessProblem(): Promise<string | null> {
    if (this.state !== 'running') return 'the Kafka producer is not connected';
    const probe = await this.probe();
    const latest = this.lastSend && this.lastSend.at > probe.at ? this.lastSend : probe;
    return latest.problem;
  }

  /** MESSAGE_TOO_LARGE when `options.wholeRecordBatches` is set and a record batch of `outgoing` is over it. */
  private recordBatchRefusal(outgoing: OutgoingMessage[], options: PublishOptions): AsanaStreamError | undefined {
    const limit = options.wholeRecordBatches;
    if (!limit) return undefined;
    const over = recordBatchOver(outgoing, limit.partitions, limit.maxBytes);
    if (!over) return undefined;
    return new AsanaStreamError(
      'MESSAGE_TOO_LARGE',
      `the ${over.records} messages of this publish for one partition of ${over.topic} take ${over.bytes} bytes, more than the ${limit.maxBytes} one write accepts; nothing of this publish was sent`,
      { details: { ...over, maxBytes: limit.maxBytes } },
    );
  }

  /** A publish the broker would refuse as a whole, or kafkajs would fail for every caller in the batch. */
  private refusal(topicMessages: TopicMessages[]): AsanaStreamError | undefined {
    for (const { topic, messages } of topicMessages) {
      if (typeof topic !== 'string' || topic === '') {
        return new AsanaStreamError('INTERNAL', 'a publish named no topic');
      }
      if (!Array.isArray(messages) || messages.some((message) => message?.value === undefined)) {
        return new AsanaStreamError('INVALID_MESSAGE', 'a message without a value', { details: { topic } });
      }
    }
    return undefined;
  }

  /** Sends one batch on the current producer, or on a fresh one when the last send failed. */
  private async send(batch: OutgoingMessage[], callers: number): Promise<void> {
    // One entry per topic, its messages in publish order: kafkajs would merge entries of one topic
    // itself, copying the topic's messages so far at each (quadratic in the batch's publishes).
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of batch) {
      const messages = byTopic.get(topic);
      if (messages) messages.push(message);
      else byTopic.set(topic, [message]);
    }
    const topicMessages: TopicMessages[] = Array.from(byTopic, ([topic, messages]) => ({ topic, messages }));
    let producer: Producer;
    try {
      producer = await this.connectedProducer();
    } catch (error) {
      countMessages(topicMessages, 'failed');
      throw error;
    }
    const startedAt = performance.now();
    try {
      // Each topic's messages are in publish order, and kafkajs keeps it per partition.
      await quietly(() => producer.sendBatch({ topicMessages, acks: -1 }));
    } catch (error) {
      requestMetrics.failed.inc();
      requestMetrics.failedDuration.observe(secondsSince(startedAt));
      countMessages(topicMessages, 'failed');
      const failure = classifyError(error);
      this.producer = undefined;
      this.replacedAfter = failure;
      await producer.disconnect().catch(() => undefined);
      // A message the broker refused says nothing about whether the producer can send.
      if (failure.disposition !== 'dead-letter') {
        this.lastSend = { at: Date.now(), problem: `the last send failed: ${failure.message}` };
      }
      throw forCallers(failure, callers);
    }
    requestMetrics.acked.inc();
    requestMetrics.ackedDuration.observe(secondsSince(startedAt));
    countMessages(topicMessages, 'acked');
    this.lastSend = { at: Date.now(), problem: null };
  }

  private async connectedProducer(): Promise<Producer> {
    if (this.producer) return this.producer;
    const fresh = this.kafka.producer(PRODUCER_CONFIG);
    try {
      await quietly(() => fresh.connect());
    } catch (error) {
      await fresh.disconnect().catch(() => undefined);
      const failure = classifyError(error);
      this.lastSend = { at: Date.now(), problem: `the Kafka producer cannot connect: ${failure.message}` };
      // Everything queued waits for this producer: fail it now, not one connect attempt at a time.
      this.batcher.failQueued(failure);
      throw failure;
    }
    this.producer = fresh;
    this.lastSend = { at: Date.now(), problem: null };
    if (this.replacedAfter) {
      producerRecoveries.inc();
      this.log.warn({
        msg: 'a fresh Kafka producer replaced the one whose send failed',
        error: this.replacedAfter.toJSON(),
      });
      this.replacedAfter = undefined;
    }
    return fresh;
  }

  /** The latest probe's answer, asking the cluster again when it is older than `probeCacheMs`. */
  private async probe(): Promise<Evidence> {
    if (this.lastProbe && Date.now() - this.lastProbe.at < this.options.probeCacheMs) return this.lastProbe;
    const probing = (this.probing ??= this.startProbe());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<Evidence>((resolve) => {
      const problem = `no Kafka broker answered within ${this.options.probeTimeoutMs} ms`;
      const left = probing.startedAt + this.options.probeTimeoutMs - Date.now();
      timer = setTimeout(() => resolve({ at: probing.startedAt, problem }), Math.max(0, left));
    });
    const evidence = await Promise.race([probing.result, timedOut]);
    clearTimeout(timer);
    if (this.probing === probing) {
      this.probing = undefined;
      this.lastProbe = evidence;
      // A probe given up on may go on retrying inside kafkajs for many seconds (its connection
      // retries): the next one asks on a fresh admin client, so readiness follows a broker
      // that is back at once.
      if (evidence.problem !== null && this.probeAdmin === probing.handle) this.probeAdmin = undefined;
    }
    return evidence;
  }

  private startProbe(): Probe {
    const startedAt = Date.now();
    const handle = (this.probeAdmin ??= this.connectProbeAdmin());
    const result = (async (): Promise<Evidence> => {
      try {
        await handle.connected;
        await quietly(() => handle.admin.describeCluster());
        return { at: startedAt, problem: null };
      } catch (error) {
        return { at: startedAt, problem: `no Kafka broker answered: ${classifyError(error).message}` };
      }
    })();
    const settled: Promise<void> = result.then(async ({ problem }) => {
      if (problem !== null && this.probeAdmin === handle) this.probeAdmin = undefined;
      // Closed only once its request settled: kafkajs would reconnect a client closed mid-retry.
      if (this.probeAdmin !== handle || this.state === 'stopped') {
        await handle.admin.disconnect().catch(() => undefined);
      }
      this.probes.delete(settled);
    });
    this.probes.add(settled);
    return { startedAt, handle, result };
  }

  private connectProbeAdmin(): ProbeAdmin {
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    const connected = quietly(() => admin.connect());
    connected.catch(() => undefined); // the probe awaits it and reports the failure
    return { admin, connected };
  }
}

/** Adds each topic's messages to the publish counter under `outcome`: a call per topic, not per message. */
function countMessages(topicMessages: TopicMessages[], outcome: 'acked' | 'failed' | 'refused'): void {
  for (const { topic, messages } of topicMessages) {
    if (typeof topic === 'string' && topic !== '' && Array.isArray(messages) && messages.length > 0) {
      publishMetricsOf(topic)[outcome].inc(messages.length);
    }
  }
}

/** A JSON message keyed by `key` (a resource gid, or a subscription id). */
export function jsonMessage(key: string, value: unknown, headers?: Record<string, string>): Message {
  return { key, value: JSON.stringify(value), headers };
}

/**
 * Runs kafkajs work outside any caller's trace, with tracing suppressed: the kafkajs
 * instrumentation then neither starts spans nor overwrites the `traceparent` already in each message.
 */
function quietly<T>(work: () => Promise<T>): Promise<T> {
  return context.with(suppressTracing(ROOT_CONTEXT), work);
}

/**
 * The error each caller of a failed batch gets. A fenced producer (OUT_OF_ORDER_SEQUENCE_NUMBER,
 * UNKNOWN_PRODUCER_ID, ...) is no caller's fault and already replaced, so it becomes a retry;
 * a message fault in a batch of several callers may be any one's, so it becomes a retry too:
 * the innocent succeed when they publish again, and the guilty, failing again, runs out of retries.
 */
function forCallers(failure: AsanaStreamError, callers: number): AsanaStreamError {
  if (failure.code === 'PRODUCER_FENCED') {
    return new AsanaStreamError(
      'KAFKA_UNAVAILABLE',
      `the Kafka producer lost its idempotent state and was replaced; publish again (${failure.message})`,
      { cause: failure, details: failure.details },
    );
  }
  if (failure.disposition === 'dead-letter' && callers > 1) {
    return new AsanaStreamError(
      failure.code,
      `Kafka refused a request holding ${callers} publishes, without saying whose message (${failure.message})`,
      { cause: failure, details: failure.details, retriable: true },
    );
  }
  return failure;
}

function spanAttributes(topic: string, messages: Message[]): Attributes {
  const attributes: Attributes = {
    'messaging.system': 'kafka',
    'messaging.destination.name': topic,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
  };
  if (messages.length > 1) attributes['messaging.batch.message_count'] = messages.length;
  else if (messages[0].key !== null && messages[0].key !== undefined) {
    attributes['messaging.kafka.message.key'] = String(messages[0].key);
  }
  return attributes;
}

function endSpans(spans: Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) {
      const failure = classifyError(error);
      span.setAttribute('error.type', failure.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    }
    span.end();
  }
}
