import { TOPICS, type TopicNames } from '@asana-stream/contracts';
import { createTestTopics, testKafka, TopicRecorder, waitFor } from '@asana-stream/testing';
import { jsonMessage, KafkaPublisher } from './kafka-publisher';

describe('KafkaPublisher on a real broker', () => {
  let names: TopicNames;
  let publisher: KafkaPublisher;

  beforeAll(async () => {
    names = await createTestTopics();
    publisher = new KafkaPublisher(testKafka('publisher-int'));
    await publisher.onModuleInit();
  });

  afterAll(async () => {
    await publisher.onApplicationShutdown();
  });

  it('lands concurrent publishes completely, each gid on one partition in publish order', async () => {
    const topic = names.physical(TOPICS.events.name);
    const gids = ['101', '102', '103', '104', '105'];
    // 100 concurrent callers: an idempotent kafkajs producer fails on concurrent sends unless funnelled.
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        publisher.publish([{ topic, messages: [jsonMessage(gids[i % gids.length], { seq: i })] }]),
      ),
    );
    const recorder = await new TopicRecorder([topic]).start();
    try {
      await waitFor('100 messages', () => recorder.messages.length >= 100);
      expect(recorder.messages).toHaveLength(100);
      for (const gid of gids) {
        const mine = recorder.messages.filter((m) => m.key === gid);
        expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
        const seqs = mine
          .sort((a, b) => Number(a.offset) - Number(b.offset))
          .map((m) => (m.value as { seq: number }).seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }
    } finally {
      await recorder.stop();
    }
  });

  it('rejects a publish to a topic that does not exist instead of creating it', async () => {
    await expect(
      publisher.publish([{ topic: names.physical('asana.no-such-topic'), messages: [jsonMessage('1', {})] }]),
    ).rejects.toThrow();
    const admin = testKafka().admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(names.physical('asana.no-such-topic'));
    } finally {
      await admin.disconnect();
    }
  });
});
