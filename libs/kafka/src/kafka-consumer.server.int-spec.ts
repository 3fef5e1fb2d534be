import { Controller, type INestMicroservice } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { TOPICS, type TopicNames } from '@asana-stream/contracts';
import { createTestTopics, testKafka, waitFor } from '@asana-stream/testing';
import { KafkaConsumerServer } from './kafka-consumer.server';
import { jsonMessage, KafkaPublisher } from './kafka-publisher';

const seen: number[] = [];
let failuresLeft = 0;

@Controller()
class RecordingConsumer {
  @EventPattern(TOPICS.events.name)
  async handle(@Payload() value: { n: number }): Promise<void> {
    if (value.n === 2 && failuresLeft > 0) {
      failuresLeft -= 1;
      throw new Error('transient failure');
    }
    seen.push(value.n);
  }
}

describe('KafkaConsumerServer on a real broker', () => {
  let names: TopicNames;
  let server: KafkaConsumerServer;
  let app: INestMicroservice;
  let publisher: KafkaPublisher;
  const groupId = `consumer-int-${Date.now()}`;

  beforeAll(async () => {
    names = await createTestTopics();
    publisher = new KafkaPublisher(testKafka());
    await publisher.onModuleInit();
    server = new KafkaConsumerServer({ kafka: testKafka(), groupId, names, topics: [TOPICS.events.name] });
    const moduleRef = await Test.createTestingModule({ controllers: [RecordingConsumer] }).compile();
    app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    await app.listen();
  });

  afterAll(async () => {
    await app.close();
    await publisher.onApplicationShutdown();
  });

  it('redelivers a message whose handler failed and commits each offset + 1 only after success', async () => {
    failuresLeft = 1;
    const topic = names.physical(TOPICS.events.name);
    await publisher.publish([{ topic, messages: [1, 2, 3].map((n) => jsonMessage('same-gid', { n })) }]);
    await waitFor('three handled messages', () => seen.length >= 3, { timeoutMs: 45_000 });
    expect(seen).toEqual([1, 2, 3]);
    expect(failuresLeft).toBe(0);
    expect(server.consumerStatus).toBe('running');

    const admin = testKafka().admin();
    await admin.connect();
    try {
      const [{ partitions }] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = partitions.map((p) => Number(p.offset)).filter((o) => o >= 0);
      // The three messages share a key, so one partition holds them at offsets 0..2: next to read is 3.
      expect(committed).toEqual([3]);
    } finally {
      await admin.disconnect();
    }
  });
});
