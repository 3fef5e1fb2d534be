import { Kafka, logLevel, Partitioners, type Admin, type Message, type Producer } from 'kafkajs';
import * as kafkaLib from '@asana-stream/kafka';

/**
 * kafkajs mended as the apps under test mend it, from their libs: with `--ref`, that commit's
 * (`applyKafkajsFixes` since the encoder fix, before it `fixKafkajsIdleTimerLoop` alone).
 */
const applyKafkajsFixes = (kafkaLib as Partial<typeof kafkaLib>).applyKafkajsFixes ?? kafkaLib.fixKafkajsIdleTimerLoop;

/** A kafkajs client for the bench's own producers, consumers and admin, quiet but for errors. */
export function benchKafka(brokers: string, clientId: string): Kafka {
  applyKafkajsFixes();
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.ERROR });
}

/**
 * The producer asana-stream publishes with (KafkaPublisher's settings): idempotent, one request
 * in flight, the default murmur2 partitioner. Sends use acks=-1.
 */
export function idempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

/**
 * A connected admin and idempotent producer for a benchmark's setup, disconnected at its cleanup.
 */
export async function connectedAdminAndProducer(
  ctx: { brokers: string; onCleanup(cleanup: () => Promise<void>): void },
  clientId: string,
): Promise<{ admin: Admin; producer: Producer }> {
  const kafka = benchKafka(ctx.brokers, clientId);
  const admin = kafka.admin();
  await admin.connect();
  ctx.onCleanup(() => admin.disconnect());
  const producer = idempotentProducer(kafka);
  await producer.connect();
  ctx.onCleanup(() => producer.disconnect());
  return { admin, producer };
}

/** Sends `messages` to `topic` in batches of `batchSize`, one batch after the other, acks=-1. */
export async function produceAll(
  producer: Producer,
  topic: string,
  messages: Message[],
  batchSize: number,
): Promise<void> {
  for (let i = 0; i < messages.length; i += batchSize) {
    await producer.sendBatch({ topicMessages: [{ topic, messages: messages.slice(i, i + batchSize) }], acks: -1 });
  }
}

/** The sum of every partition's end offset. */
export async function endOffsetTotal(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((sum, partition) => sum + Number(partition.high), 0);
}

/** The sum of a group's committed offsets on `topic` (a partition without a commit counts 0). */
export async function committedTotal(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (offsets?.partitions ?? []).reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0);
}
