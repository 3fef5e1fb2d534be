import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { partitionForKey } from '@asana-stream/kafka';

/** How far a scan for one key may go: the last `maxMessages` of each partition, for `timeoutMs` at most. */
export interface KeyScanLimits {
  maxMessages: number;
  timeoutMs: number;
}

/** What was read of one topic looking for a key, and what of it carried the key. */
export interface KeyScan {
  /** Physical topic name. */
  topic: string;
  /** The partition the key is written to (the default partitioner's choice). */
  partition: number;
  /** First offset read (inclusive) and one past the last (the partition's end when the scan began). */
  from: number;
  to: number;
  /** Whether `from` is the partition's earliest offset still kept: nothing older was left unread. */
  fromEarliest: boolean;
  /** Whether every offset in [from, to) was read before the time limit. */
  complete: boolean;
  /** The messages with the key, in offset order. */
  messages: (KafkaMessage & { partition: number })[];
}

/**
 * Reads the messages of `key` from the tail of each topic: only the one partition the key is
 * written to (kafkajs' default partitioner over the topic's partition count, as every producer of
 * the project places a gid), only its last `maxMessages` offsets, and for `timeoutMs` at most,
 * after which what was read is returned marked incomplete. One consumer of a throwaway group
 * (deleted after) reads every topic at once, so the group join is paid once.
 */
export async function scanForKey(
  kafka: Kafka,
  admin: Admin,
  { topics, key, groupPrefix }: { topics: string[]; key: string; groupPrefix: string },
  { maxMessages, timeoutMs }: KeyScanLimits,
): Promise<KeyScan[]> {
  const metadata = await admin.fetchTopicMetadata({ topics });
  const scans: KeyScan[] = [];
  const ends = new Map<string, { partition: number; high: string }[]>();
  for (const topic of topics) {
    const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    const offsets = await admin.fetchTopicOffsets(topic);
    ends.set(topic, offsets);
    const partition = partitionForKey(key, partitions);
    const range = offsets.find((o) => o.partition === partition);
    const [low, high] = [Number(range?.low ?? 0), Number(range?.high ?? 0)];
    const from = Math.max(low, high - maxMessages);
    scans.push({ topic, partition, from, to: high, fromEarliest: from === low, complete: from >= high, messages: [] });
  }
  const open = scans.filter((scan) => !scan.complete);
  if (open.length === 0) return scans;

  const groupId = `${groupPrefix}-${randomBytes(4).toString('hex')}`;
  const byTopic = new Map(open.map((scan) => [scan.topic, scan]));
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  // A short long-poll: disconnecting waits for the fetch in flight.
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, allowAutoTopicCreation: false });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: open.map((scan) => scan.topic), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const scan = byTopic.get(batch.topic);
        if (!scan || scan.complete || batch.partition !== scan.partition || payload.isStale()) return;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset < scan.from || offset >= scan.to) continue;
          if (message.key?.toString() === key) scan.messages.push({ ...message, partition: batch.partition });
        }
        if (Number(batch.lastOffset()) + 1 >= scan.to) scan.complete = true;
        if (open.every((s) => s.complete)) finish();
      },
    });
    for (const scan of open) {
      for (const { partition, high } of ends.get(scan.topic) ?? []) {
        consumer.seek({
          topic: scan.topic,
          partition,
          offset: partition === scan.partition ? String(scan.from) : high,
        });
      }
    }
    await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  for (const scan of scans) {
    scan.messages = [...new Map(scan.messages.map((m) => [m.offset, m])).values()].sort(
      (a, b) => Number(a.offset) - Number(b.offset),
    );
  }
  return scans;
}
