import { Controller, type INestMicroservice } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS, TopicNames } from '@asana-stream/contracts';
import { PrivateBroker, waitFor } from '@asana-stream/testing';
import { applyKafkajsFixes } from './kafkajs-fixes';
import { KafkaConsumerErrorFilter } from './kafka-consumer-error.filter';
import { KafkaConsumerServer } from './kafka-consumer.server';
import { ensureTopics } from './topic-admin';

@Controller()
class IdleHandler {
  @EventPattern(TOPICS.events.name)
  handle(): void {}
}

describe('the consumer readiness when its broker goes away', () => {
  const broker = new PrivateBroker();
  let app: INestMicroservice | undefined;

  beforeAll(async () => {
    await broker.prepare();
    await broker.script('start');
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await broker.script('stop');
    broker.remove();
  }, 60_000);

  it('turns unready within 15 s of the broker stopping, and ready again once it is back', async () => {
    applyKafkajsFixes();
    const kafka = new Kafka({ clientId: 'readiness-int', brokers: [broker.brokers], logLevel: logLevel.NOTHING });
    const names = new TopicNames('readiness.');
    await ensureTopics(kafka, [TOPICS.events], names);
    const server = new KafkaConsumerServer({ kafka, groupId: 'readiness-int', names, topics: [TOPICS.events.name] });
    const moduleRef = await Test.createTestingModule({ controllers: [IdleHandler] }).compile();
    app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    app.useGlobalFilters(new KafkaConsumerErrorFilter());
    await app.listen();
    await waitFor('the consumer ready', () => server.readinessProblem() === null);

    await broker.script('stop');
    const stoppedAt = Date.now();
    const problem = await waitFor('the consumer unready', () => server.readinessProblem() ?? false, {
      timeoutMs: 30_000,
    });
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(problem).toMatch(/Kafka/);
    // kafkajs keeps trying: not a reason to restart the pod.
    expect(server.fatalProblem()).toBeNull();

    await broker.script('start');
    await waitFor('the consumer ready again', () => server.readinessProblem() === null, { timeoutMs: 90_000 });
  }, 180_000);
});
