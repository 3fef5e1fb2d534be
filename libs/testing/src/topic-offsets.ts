import type { Kafka } from 'kafkajs';

/**
 * How many messages the topics hold in total (the sum of every partition's end offset). Compare
 * it before and after an action to prove how much, or that nothing, was published, without
 * waiting for a consumer.
 */
export async function totalEndOffset(kafka: Kafka, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let total = 0;
    for (const topic of topics) {
      for (const partition of await admin.fetchTopicOffsets(topic)) total += Number(partition.high);
    }
    return total;
  } finally {
    await admin.disconnect();
  }
}
