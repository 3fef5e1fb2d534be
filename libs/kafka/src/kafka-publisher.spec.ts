import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Kafka, Producer } from 'kafkajs';
import { shutdownTelemetry, startTelemetry } from '@asana-stream/telemetry';
import { KafkaPublisher } from './kafka-publisher';

/** A kafkajs client whose producer connects and disconnects; any other call fails the test. */
function connectOnlyKafka(): Kafka {
  const producer: Partial<Producer> = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: () => Promise.reject(new Error('nothing was to be sent')),
  };
  const kafka: Partial<Kafka> = { producer: () => producer as Producer };
  return kafka as Kafka;
}

/** Runs `work` with a started publisher on `connectOnlyKafka`, shut down afterwards whatever happens. */
async function withPublisher(
  maxMessageBytes: number,
  work: (publisher: KafkaPublisher) => Promise<void>,
): Promise<void> {
  const publisher = new KafkaPublisher(connectOnlyKafka(), { maxMessageBytes });
  await publisher.onModuleInit();
  try {
    await work(publisher);
  } finally {
    await publisher.onApplicationShutdown();
  }
}

describe('KafkaPublisher, before anything is sent', () => {
  it('refuses to publish before it was started and after it was shut down', async () => {
    const publisher = new KafkaPublisher(connectOnlyKafka());
    const message = { topic: 't', messages: [{ key: '1', value: '{}' }] };
    await expect(publisher.publish([message])).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    await publisher.onModuleInit();
    await publisher.onApplicationShutdown();
    await expect(publisher.publish([message])).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    await expect(publisher.readinessProblem()).resolves.toBe('the Kafka producer is not connected');
  });

  it('refuses, alone and at once, a publish the broker or kafkajs would fail as a whole', async () => {
    await withPublisher(1000, async (publisher) => {
      await expect(publisher.publish([{ topic: '', messages: [{ value: '{}' }] }])).rejects.toMatchObject({
        code: 'INTERNAL',
      });
      const noValue = { key: '1' } as unknown as { value: string };
      await expect(publisher.publish([{ topic: 't', messages: [noValue] }])).rejects.toMatchObject({
        code: 'INVALID_MESSAGE',
      });
      const tooLarge = [
        { key: '1', value: '{}' },
        { key: '2', value: 'x'.repeat(2000) },
      ];
      await expect(publisher.publish([{ topic: 't', messages: tooLarge }])).rejects.toMatchObject({
        code: 'MESSAGE_TOO_LARGE',
        disposition: 'dead-letter',
        details: { topic: 't', maxBytes: 1000 },
      });
    });
  });

  it('refuses a publish whose messages for one partition would make a record batch over wholeRecordBatches', async () => {
    await withPublisher(10_000, async (publisher) => {
      // Each message alone is far below maxMessageBytes; together, on one partition, they are not.
      const messages = Array.from({ length: 8 }, () => ({ key: 'same gid', value: 'x'.repeat(900) }));
      const options = { wholeRecordBatches: { maxBytes: 5000, partitions: () => 6 } };
      await expect(publisher.publish([{ topic: 't', messages }], options)).rejects.toMatchObject({
        code: 'MESSAGE_TOO_LARGE',
        disposition: 'dead-letter',
        message: expect.stringMatching(
          /^the 8 messages of this publish for one partition of t take \d+ bytes, more than the 5000 one write accepts; nothing of this publish was sent$/,
        ),
        details: { topic: 't', records: 8, maxBytes: 5000 },
      });
    });
  });

  describe('with the telemetry the apps start', () => {
    beforeAll(() => startTelemetry({ serviceName: 'kafka-publisher-spec', env: {} }));
    afterAll(() => shutdownTelemetry());

    it("counts the trace headers it injects against wholeRecordBatches: a client's baggage reaches every message", async () => {
      await withPublisher(100_000, async (publisher) => {
        const messages = Array.from({ length: 4 }, () => ({ key: 'same gid', value: 'x'.repeat(1000) }));
        const options = { wholeRecordBatches: { maxBytes: 6000, partitions: () => 6 } };
        // Without baggage the batch fits: the publish goes on to the send, which the fake fails.
        await expect(publisher.publish([{ topic: 't', messages }], options)).rejects.toThrow('nothing was to be sent');
        const baggage = propagation.createBaggage({ tenant: { value: 'x'.repeat(500) } });
        const withBaggage = propagation.setBaggage(ROOT_CONTEXT, baggage);
        // 4 × 500 bytes of baggage more: over the limit, refused before anything is sent.
        await expect(
          context.with(withBaggage, () => publisher.publish([{ topic: 't', messages }], options)),
        ).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', details: { topic: 't', records: 4, maxBytes: 6000 } });
      });
    });
  });
});
