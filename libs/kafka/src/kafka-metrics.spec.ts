import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { AsanaStreamError } from '@asana-stream/errors';
import { metricsExposition, parseExposition, samplesOf, sumOf } from '@asana-stream/metrics';
import { ConsumerHealth } from './consumer-health';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { consumerLagOf, consumerMetricsOf, forgetConsumer, watchConsumer } from './kafka-metrics';
import { OffsetCommitter } from './offset-committer';
import { PartitionBatchRun, type BatchProcessorDeps, type TopicBinding } from './partition-batch.processor';
import { RetryPolicy } from './retry-policy';

// kafkajs' own Batch (src/consumer/batch.js), to check our lag against its offsetLag().
// eslint-disable-next-line @typescript-eslint/no-require-imports
const KafkajsBatch = require('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  data: { partition: number; highWatermark: string; messages: { offset: string }[] },
) => { offsetLag(): string };

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

const scrape = async () => parseExposition((await metricsExposition()).text);

describe('consumerLagOf', () => {
  it.each([
    // highWatermark, last offset done, kafkajs' offsetLag() for a batch ending there
    ['100', 99],
    ['100', 41],
    ['7', 0],
  ])('equals kafkajs offsetLag() once a batch ending at the offset is done (hw %s, last %s)', (hw, last) => {
    const batch = new KafkajsBatch('t', '0', {
      partition: 0,
      highWatermark: hw,
      messages: [{ offset: '0' }, { offset: String(last) }],
    });

    expect(consumerLagOf(hw, last + 1)).toBe(Number(batch.offsetLag()));
  });

  it('counts the messages from the next one to process to the high watermark, never below 0', () => {
    expect(consumerLagOf('100', 40)).toBe(60);
    expect(consumerLagOf('100', 100)).toBe(0);
    expect(consumerLagOf('100', 120)).toBe(0);
  });

  it('has no value without a high watermark or an offset', () => {
    expect(consumerLagOf(undefined, 3)).toBeUndefined();
    expect(consumerLagOf('x', 3)).toBeUndefined();
    expect(consumerLagOf('10', NaN)).toBeUndefined();
  });
});

describe('TopicConsumerMetrics', () => {
  it('keeps the lag of the partitions still owned only', async () => {
    const metrics = consumerMetricsOf('spec.lag-topic');
    metrics.setLag(0, 5);
    metrics.setLag(1, 7);
    metrics.setLag(2, undefined);

    expect(samplesOf(await scrape(), 'asana_stream_kafka_consumer_lag_messages', { topic: 'spec.lag-topic' })).toEqual([
      {
        name: 'asana_stream_kafka_consumer_lag_messages',
        labels: { topic: 'spec.lag-topic', partition: '0' },
        value: 5,
      },
      {
        name: 'asana_stream_kafka_consumer_lag_messages',
        labels: { topic: 'spec.lag-topic', partition: '1' },
        value: 7,
      },
    ]);
    metrics.keepLagOf([1]);
    expect(
      samplesOf(await scrape(), 'asana_stream_kafka_consumer_lag_messages', { topic: 'spec.lag-topic' }).map(
        (sample) => sample.labels.partition,
      ),
    ).toEqual(['1']);
  });

  it('reports a watched consumer as ready or not and its halts, until forgotten', async () => {
    const health = new ConsumerHealth({ contactTimeoutMs: 10_000, haltLogIntervalMs: 60_000 }, quiet);
    watchConsumer('spec-group', health);
    let parsed = await scrape();
    expect(sumOf(parsed, 'asana_stream_kafka_consumer_ready', { group: 'spec-group' })).toBe(0); // starting

    health.setStatus('running');
    health.contact();
    parsed = await scrape();
    expect(sumOf(parsed, 'asana_stream_kafka_consumer_ready', { group: 'spec-group' })).toBe(1);
    expect(sumOf(parsed, 'asana_stream_kafka_consumer_halted', { group: 'spec-group' })).toBe(0);

    health.halt({}, new AsanaStreamError('UNAUTHORIZED', 'no'), {});
    parsed = await scrape();
    expect(sumOf(parsed, 'asana_stream_kafka_consumer_ready', { group: 'spec-group' })).toBe(0);
    expect(sumOf(parsed, 'asana_stream_kafka_consumer_halted', { group: 'spec-group' })).toBe(1);

    forgetConsumer('spec-group', new ConsumerHealth({ contactTimeoutMs: 1, haltLogIntervalMs: 1 }, quiet));
    expect(samplesOf(await scrape(), 'asana_stream_kafka_consumer_ready', { group: 'spec-group' })).toHaveLength(1);
    forgetConsumer('spec-group', health);
    expect(samplesOf(await scrape(), 'asana_stream_kafka_consumer_ready', { group: 'spec-group' })).toHaveLength(0);
  });
});

describe('PartitionBatchRun metrics', () => {
  const topic = 'spec.asana.state';

  function record(offset: number, key: string, value: string): KafkaMessage {
    return { key: Buffer.from(key), value: Buffer.from(value), headers: {}, offset: String(offset) } as KafkaMessage;
  }

  function run(messages: KafkaMessage[], handler: TopicBinding['handler'], highWatermark: string) {
    const health = new ConsumerHealth({ contactTimeoutMs: 10_000, haltLogIntervalMs: 60_000 }, quiet);
    const binding: TopicBinding = {
      logical: 'asana.state',
      physical: topic,
      handler,
      batch: false,
      decode: (bytes) => JSON.parse(String(bytes)) as unknown,
      deadLetterTopic: `${topic}.dlq`,
    };
    const deps: BatchProcessorDeps = {
      retry: new RetryPolicy({ baseDelayMs: 1, maxDelayMs: 1, budgetMs: 10_000 }, () => 0),
      deadLetters: new DeadLetterPublisher({ publish: async () => undefined }),
      health,
      log: quiet,
      keyConcurrency: 4,
      maxBatchMessages: 100,
      heartbeatIntervalMs: 10,
      committer: new OffsetCommitter(quiet),
      commitIntervalMs: 5000,
      abortGraceMs: 200,
      onPartitionsLost: () => undefined,
    };
    const payload = {
      batch: { topic, partition: 4, highWatermark, messages },
      resolveOffset: () => undefined,
      heartbeat: async () => undefined,
      uncommittedOffsets: () => ({ topics: [] }),
      commitOffsetsIfNecessary: async () => undefined,
    } as unknown as EachBatchPayload;
    return new PartitionBatchRun(payload, binding, deps, new AbortController().signal).run();
  }

  it('counts done, retried and dead-lettered messages, times handlers and the batch, and sets the lag', async () => {
    const before = await scrape();
    const count = (parsed: typeof before, outcome: string) =>
      sumOf(parsed, 'asana_stream_kafka_consumer_messages_total', { topic, outcome });
    let failedOnce = false;

    await run(
      [record(10, 'a', '{"n":1}'), record(11, 'b', 'not json'), record(12, 'c', '{"n":2}'), record(13, 'a', '{"n":3}')],
      async (value) => {
        if ((value as { n: number }).n === 2 && !failedOnce) {
          failedOnce = true;
          throw new AsanaStreamError('UNAVAILABLE', 'try again');
        }
      },
      '20',
    );

    const after = await scrape();
    expect(count(after, 'done') - count(before, 'done')).toBe(3);
    expect(count(after, 'retried') - count(before, 'retried')).toBe(1);
    expect(count(after, 'dead_lettered') - count(before, 'dead_lettered')).toBe(1);
    // By the error code as logs and the x-dlq-code header spell it.
    expect(
      sumOf(after, 'asana_stream_kafka_consumer_dead_letters_total', { topic, code: 'INVALID_MESSAGE' }) -
        sumOf(before, 'asana_stream_kafka_consumer_dead_letters_total', { topic, code: 'INVALID_MESSAGE' }),
    ).toBe(1);
    // 3 decoded messages, one of them twice.
    expect(
      sumOf(after, 'asana_stream_kafka_consumer_handler_duration_seconds_count', { topic }) -
        sumOf(before, 'asana_stream_kafka_consumer_handler_duration_seconds_count', { topic }),
    ).toBe(4);
    expect(
      sumOf(after, 'asana_stream_kafka_consumer_batch_duration_seconds_count', { topic }) -
        sumOf(before, 'asana_stream_kafka_consumer_batch_duration_seconds_count', { topic }),
    ).toBe(1);
    // Offsets 10..13 done of a partition whose next offset is 20: 6 messages to go.
    expect(sumOf(after, 'asana_stream_kafka_consumer_lag_messages', { topic, partition: '4' })).toBe(6);
  });
});
