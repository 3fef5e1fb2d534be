import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { allTopics, TopicNames } from '@asana-stream/contracts';
import { ensureTopics, applyKafkajsFixes } from '@asana-stream/kafka';

export const TEST_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

export function testKafka(clientId = 'asana-stream-test'): Kafka {
  applyKafkajsFixes();
  return new Kafka({ clientId, brokers: TEST_BROKERS.split(','), logLevel: logLevel.NOTHING });
}

/**
 * What every topic a jest run creates starts with: `test-<run id>-`. The run id comes from the
 * global setup (`TEST_RUN_ID_ENV`), so the global teardown deletes exactly this run's topics and a
 * long-lived local broker does not pile up thousands of them (it slowed down with each).
 */
export const TEST_RUN_ID_ENV = 'ASANA_STREAM_TEST_RUN';

export function testRunTopicPrefix(): string {
  return `test-${process.env[TEST_RUN_ID_ENV] ?? 'adhoc'}-`;
}

/** Topic names under a prefix no other test uses. */
export function testTopicNames(): TopicNames {
  return new TopicNames(`${testRunTopicPrefix()}${randomBytes(4).toString('hex')}.`);
}

/** A topic prefix no other test uses, with every topic of the topology created under it. */
export async function createTestTopics(): Promise<TopicNames> {
  const names = testTopicNames();
  await ensureTopics(testKafka(), allTopics(), names);
  return names;
}

/**
 * Deletes every topic whose name starts with `prefix` (this run's, see `testRunTopicPrefix`),
 * 100 per request. Returns how many it deleted.
 */
export async function deleteTopicsByPrefix(prefix: string): Promise<number> {
  // Few retries: a run of unit tests alone may have no broker to ask.
  applyKafkajsFixes();
  const kafka = new Kafka({
    clientId: 'asana-stream-test-teardown',
    brokers: TEST_BROKERS.split(','),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    retry: { retries: 1 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    for (let i = 0; i < topics.length; i += 100) {
      await admin.deleteTopics({ topics: topics.slice(i, i + 100), timeout: 30_000 });
    }
    return topics.length;
  } finally {
    await admin.disconnect();
  }
}

export interface ReceivedMessage<V = unknown> {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: V;
  headers: Record<string, string>;
}

/** A message value as JSON (null for a tombstone): how the pipeline's topics carry values. */
export const jsonValue = (bytes: Buffer | null): unknown => (bytes ? JSON.parse(bytes.toString()) : null);

/** A message value as the bytes stored, untouched (raw deliveries are bodies, maybe not even JSON). */
export const rawValue = (bytes: Buffer | null): Buffer => bytes ?? Buffer.alloc(0);

/**
 * Collects every message of some topics (from the beginning) until stopped, each record once:
 * a consumer group that rebalances redelivers from its last commit, but a record keeps its
 * (topic, partition, offset), while a message published twice has two offsets and stays twice.
 */
export class TopicRecorder<V = unknown> {
  readonly messages: ReceivedMessage<V>[] = [];
  private readonly positions = new Set<string>();
  private consumer?: Consumer;

  /** `decodeValue`: `jsonValue` (the default) or `rawValue`. */
  constructor(
    private readonly topics: string[],
    private readonly decodeValue: (bytes: Buffer | null) => V = jsonValue as (bytes: Buffer | null) => V,
  ) {}

  async start(): Promise<this> {
    this.consumer = testKafka().consumer({ groupId: `recorder-${randomBytes(4).toString('hex')}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const position = `${topic}/${partition}/${message.offset}`;
        if (this.positions.has(position)) return;
        this.positions.add(position);
        this.messages.push(this.decode(topic, partition, message));
      },
    });
    return this;
  }

  /** Messages of `topic` whose header `name` is `value`. */
  find(topic: string, name: string, value: string): ReceivedMessage<V>[] {
    return this.messages.filter((m) => m.topic === topic && m.headers[name] === value);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  private decode(topic: string, partition: number, message: KafkaMessage): ReceivedMessage<V> {
    return {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString() ?? null,
      value: this.decodeValue(message.value),
      headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, v?.toString() ?? ''])),
    };
  }
}
