import type { Counter, Gauge, Histogram } from 'prom-client';
import { counter, DURATION_BUCKETS_SECONDS, gauge, histogram, LabelChildren, safeCollect } from '@asana-stream/metrics';

/*
 * The Kafka metrics of every app (consumer transport and publisher), registered in the process's
 * registry. Labels are topics as the broker names them (KAFKA_TOPIC_PREFIX included), partition
 * numbers, outcomes, error codes and consumer groups: never a key, a gid or a value.
 */

export const consumerMessages = counter({
  name: 'asana_stream_kafka_consumer_messages_total',
  help: 'Consumed messages by outcome: done (handled) and dead_lettered (parked on the dead-letter topic) count each message once; retried counts each time a message (or each message of a batch) was tried again after a failure.',
  labelNames: ['topic', 'outcome'] as const,
});

export const consumerDeadLetters = counter({
  name: 'asana_stream_kafka_consumer_dead_letters_total',
  help: 'Messages published to their dead-letter topic, by source topic and error code (as in the x-dlq-code header).',
  labelNames: ['topic', 'code'] as const,
});

export const consumerHandlerDuration = histogram({
  name: 'asana_stream_kafka_consumer_handler_duration_seconds',
  help: 'One call of a handler: a message, or a chunk of a batch handler; failed calls included.',
  labelNames: ['topic'] as const,
  buckets: DURATION_BUCKETS_SECONDS,
});

export const consumerBatchDuration = histogram({
  name: 'asana_stream_kafka_consumer_batch_duration_seconds',
  help: 'One partition batch kafkajs fetched, from its start until every message was done (retries, dead letters and halts included) or given up.',
  labelNames: ['topic'] as const,
  buckets: DURATION_BUCKETS_SECONDS,
});

export const consumerLag = gauge({
  name: 'asana_stream_kafka_consumer_lag_messages',
  help: "Messages of a partition this member owns not yet done: the partition's high watermark (as of the last fetch) minus the offset after the last message done (kafkajs' batch.offsetLag() once a batch is done).",
  labelNames: ['topic', 'partition'] as const,
});

/** What the ready and halted gauges read from a running consumer, by group. */
export interface ConsumerProbe {
  readinessProblem(): string | null;
  readonly haltedCount: number;
}

const probes = new Map<string, ConsumerProbe>();

export const consumerReady = gauge({
  name: 'asana_stream_kafka_consumer_ready',
  help: 'Whether the consumer of a group is ready (1): running, hearing from the broker, nothing halted. 0 otherwise.',
  labelNames: ['group'] as const,
  collect: safeCollect(function (this: Gauge<'group'>) {
    for (const [group, probe] of probes) this.set({ group }, probe.readinessProblem() === null ? 1 : 0);
  }),
});

export const consumerHalted = gauge({
  name: 'asana_stream_kafka_consumer_halted',
  help: 'Messages or batches halted right now (uncommitted, waiting until their cause is fixed), by group.',
  labelNames: ['group'] as const,
  collect: safeCollect(function (this: Gauge<'group'>) {
    for (const [group, probe] of probes) this.set({ group }, probe.haltedCount);
  }),
});

/** Reports a consumer's readiness and halts under `group` until `forgetConsumer`. */
export function watchConsumer(group: string, probe: ConsumerProbe): void {
  probes.set(group, probe);
}

/** Stops reporting `probe` (not another consumer of the same group in this process). */
export function forgetConsumer(group: string, probe: ConsumerProbe): void {
  if (probes.get(group) !== probe) return;
  probes.delete(group);
  consumerReady.remove({ group });
  consumerHalted.remove({ group });
}

/**
 * Messages of a partition from `nextOffset` (the first not yet done) to its end: the high
 * watermark is the offset the next message written will get. Undefined when either is not a
 * number (a payload without a high watermark).
 */
export function consumerLagOf(highWatermark: string | undefined, nextOffset: number): number | undefined {
  const high = Number(highWatermark);
  if (!Number.isFinite(high) || !Number.isFinite(nextOffset)) return undefined;
  return Math.max(0, high - nextOffset);
}

/** The consumer's metrics of one topic, label children bound once. */
export class TopicConsumerMetrics {
  readonly done: Counter.Internal;
  readonly retried: Counter.Internal;
  readonly deadLettered: Counter.Internal;
  readonly handlerDuration: Histogram.Internal<'topic'>;
  readonly batchDuration: Histogram.Internal<'topic'>;
  private readonly deadLettersByCode: LabelChildren<string, Counter.Internal>;
  private readonly lagByPartition = new Map<number, Gauge.Internal<'topic' | 'partition'>>();

  constructor(readonly topic: string) {
    this.done = consumerMessages.labels(topic, 'done');
    this.retried = consumerMessages.labels(topic, 'retried');
    this.deadLettered = consumerMessages.labels(topic, 'dead_lettered');
    this.handlerDuration = consumerHandlerDuration.labels(topic);
    this.batchDuration = consumerBatchDuration.labels(topic);
    this.deadLettersByCode = new LabelChildren((code) => consumerDeadLetters.labels(topic, code), 200);
  }

  deadLetter(code: string): void {
    this.deadLettered.inc();
    this.deadLettersByCode.get(code).inc();
  }

  setLag(partition: number, lag: number | undefined): void {
    if (lag === undefined) return;
    let child = this.lagByPartition.get(partition);
    if (child === undefined) {
      child = consumerLag.labels(this.topic, String(partition));
      this.lagByPartition.set(partition, child);
    }
    child.set(lag);
  }

  /** Drops the lag of partitions this member no longer owns (all of them when `owned` is empty). */
  keepLagOf(owned: readonly number[]): void {
    for (const partition of this.lagByPartition.keys()) {
      if (owned.includes(partition)) continue;
      this.lagByPartition.delete(partition);
      consumerLag.remove(this.topic, String(partition));
    }
  }
}

const topicMetrics = new LabelChildren((topic: string) => new TopicConsumerMetrics(topic));

/** The consumer metrics of a topic (as the broker names it), made once per process. */
export function consumerMetricsOf(topic: string): TopicConsumerMetrics {
  return topicMetrics.get(topic);
}

// ---- publisher ------------------------------------------------------------------------------

export const publishedMessages = counter({
  name: 'asana_stream_kafka_publish_messages_total',
  help: 'Messages given to a KafkaPublisher, by topic and outcome: acked (every in-sync replica has it), failed (its request failed) or refused (too large or invalid: never sent).',
  labelNames: ['topic', 'outcome'] as const,
});

export const publishRequests = counter({
  name: 'asana_stream_kafka_publish_requests_total',
  help: 'Produce requests (one sendBatch of many callers), by outcome: acked or failed.',
  labelNames: ['outcome'] as const,
});

export const publishRequestDuration = histogram({
  name: 'asana_stream_kafka_publish_request_duration_seconds',
  help: 'One produce request (acks=all), from sending until every broker answered, by outcome.',
  labelNames: ['outcome'] as const,
  buckets: DURATION_BUCKETS_SECONDS,
});

export const producerRecoveries = counter({
  name: 'asana_stream_kafka_producer_recoveries_total',
  help: 'Fresh idempotent producers connected after a failed send replaced the one that failed.',
});

/** The publisher's label children of one topic. */
export interface TopicPublishMetrics {
  acked: Counter.Internal;
  failed: Counter.Internal;
  refused: Counter.Internal;
}

const topicPublishMetrics = new LabelChildren((topic: string): TopicPublishMetrics => ({
  acked: publishedMessages.labels(topic, 'acked'),
  failed: publishedMessages.labels(topic, 'failed'),
  refused: publishedMessages.labels(topic, 'refused'),
}));

export function publishMetricsOf(topic: string): TopicPublishMetrics {
  return topicPublishMetrics.get(topic);
}

export const requestMetrics = {
  acked: publishRequests.labels('acked'),
  failed: publishRequests.labels('failed'),
  ackedDuration: publishRequestDuration.labels('acked'),
  failedDuration: publishRequestDuration.labels('failed'),
};
