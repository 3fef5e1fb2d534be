import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { promisify } from 'node:util';
import { SpanKind, trace, type SpanContext } from '@opentelemetry/api';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { NodeSDK } from '@opentelemetry/sdk-node';
import * as kafkajs from 'kafkajs';
import { Kafka, logLevel, type Producer, type ProducerBatch } from 'kafkajs';
import { changeTopic, TOPICS, type TopicNames } from '@asana-stream/contracts';
import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import { metricsExposition, parseExposition, sumOf, type Exposition } from '@asana-stream/metrics';
import {
  createTestTopics,
  testKafka,
  TopicRecorder,
  totalEndOffset,
  waitFor,
  type ReceivedMessage,
} from '@asana-stream/testing';
import { jsonMessage, KafkaPublisher, type KafkaPublisherOptions } from './kafka-publisher';
import { KafkaPublisherReadinessCheck } from './kafka-readiness.checks';

/** kafkajs' own table of protocol errors, and how it turns a broker's error code into its error. */
const { errorCodes, createErrorFromCode } = jest.requireActual<{
  errorCodes: { type: string; code: number }[];
  createErrorFromCode(code: number): Error;
}>('kafkajs/src/protocol/error');

/** The KafkaJSProtocolError kafkajs throws when a broker answers OUT_OF_ORDER_SEQUENCE_NUMBER. */
function outOfOrderSequence(): Error {
  return createErrorFromCode(errorCodes.find((e) => e.type === 'OUT_OF_ORDER_SEQUENCE_NUMBER')!.code);
}

/**
 * A publisher on a kafkajs client whose producers are recorded and their `sendBatch` calls
 * counted. `failing(producer, call)` may return an error for a call to throw instead of sending,
 * as if the broker had answered with it.
 */
function recordedPublisher(
  clientId: string,
  options?: KafkaPublisherOptions,
  failing: (producer: number, call: number) => Error | undefined = () => undefined,
) {
  const kafka = testKafka(clientId);
  const producers: Producer[] = [];
  const createProducer = kafka.producer.bind(kafka);
  jest.spyOn(kafka, 'producer').mockImplementation((config) => {
    const producer = createProducer(config);
    const index = producers.length;
    const sendBatch = producer.sendBatch.bind(producer);
    jest.spyOn(producer, 'sendBatch').mockImplementation(async (batch: ProducerBatch) => {
      const error = failing(index, jest.mocked(producer.sendBatch).mock.calls.length);
      if (error) throw error;
      return sendBatch(batch);
    });
    producers.push(producer);
    return producer;
  });
  const requests = () => producers.reduce((sum, p) => sum + jest.mocked(p.sendBatch).mock.calls.length, 0);
  return { publisher: new KafkaPublisher(kafka, options), producers, requests };
}

/** What `promise` settled with: the value's absence, or the rejection. */
function settled(promise: Promise<unknown>): Promise<{ ok: true } | { ok: false; error: unknown }> {
  return promise.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Each key's messages in offset order must carry increasing `seq`s, all on one partition. */
function expectKeysInPublishOrder(messages: ReceivedMessage[]): void {
  const keys = new Set(messages.map((m) => m.key));
  for (const key of keys) {
    const mine = messages.filter((m) => m.key === key);
    expect(new Set(mine.map((m) => m.partition)).size).toBe(1);
    const seqs = mine.sort((a, b) => Number(a.offset) - Number(b.offset)).map((m) => (m.value as { seq: number }).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  }
}

/**
 * Every message on `topic`, each once: as many as its partitions' end offsets add up to, so a
 * message written twice shows as one too many.
 */
async function everyMessage(topic: string): Promise<ReceivedMessage[]> {
  const total = await totalEndOffset(testKafka(), [topic]);
  const recorder = await new TopicRecorder([topic]).start();
  try {
    await waitFor(`${total} messages on ${topic}`, () => recorder.messages.length >= total);
    return [...recorder.messages];
  } finally {
    await recorder.stop();
  }
}

/** The process's metrics now, and how much a sample moved since `before`. */
async function metricsNow(): Promise<Exposition> {
  return parseExposition((await metricsExposition()).text);
}
const moved = (before: Exposition, after: Exposition, name: string, labels: Record<string, string> = {}) =>
  sumOf(after, name, labels) - sumOf(before, name, labels);

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

  it('lands 1,000 publishes of many callers completely, each gid on one partition in publish order, in far fewer requests', async () => {
    const topic = names.physical(TOPICS.events.name);
    const { publisher: batching, requests } = recordedPublisher('publisher-int-batching');
    await batching.onModuleInit();
    try {
      const gids = Array.from({ length: 50 }, (_, i) => String(1000 + i));
      const publishes: Promise<void>[] = [];
      // Callers arrive over many turns of the event loop, as HTTP requests and consumed messages do.
      for (let seq = 0; seq < 1000; seq++) {
        if (seq % 20 === 0) await nextMacrotask();
        publishes.push(batching.publish([{ topic, messages: [jsonMessage(gids[seq % gids.length], { seq })] }]));
      }
      await Promise.all(publishes);
      expect(requests()).toBeLessThan(100);

      const messages = await everyMessage(topic);
      expect(messages).toHaveLength(1000);
      expect(new Set(messages.map((m) => (m.value as { seq: number }).seq)).size).toBe(1000);
      expectKeysInPublishOrder(messages);
    } finally {
      await batching.onApplicationShutdown();
    }
  });

  it('refuses a publish with a message over the size limit at once, sends nothing of it, and the next publish goes', async () => {
    const events = names.physical(TOPICS.events.name);
    const deliveries = names.physical(TOPICS.deliveries.name);
    const { publisher: limited, requests } = recordedPublisher('publisher-int-too-large');
    await limited.onModuleInit();
    try {
      const metricsBefore = await metricsNow();
      const before = await totalEndOffset(testKafka(), [events, deliveries]);
      // ingest's shape: the events and the raw delivery, whose body is larger than Kafka accepts.
      const refusal = limited.publish([
        { topic: events, messages: [jsonMessage('2001', { seq: 1 })] },
        { topic: deliveries, messages: [jsonMessage('sub-1', { body: 'x'.repeat(1_200_000) })] },
      ]);
      await expect(refusal).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE', disposition: 'dead-letter' });
      expect(requests()).toBe(0);

      const started = Date.now();
      await limited.publish([{ topic: events, messages: [jsonMessage('2001', { seq: 2 })] }]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(requests()).toBe(1);
      expect(await totalEndOffset(testKafka(), [events, deliveries])).toBe(before + 1);
      const metricsAfter = await metricsNow();
      const messages = 'asana_stream_kafka_publish_messages_total';
      expect([
        moved(metricsBefore, metricsAfter, messages, { topic: events, outcome: 'refused' }),
        moved(metricsBefore, metricsAfter, messages, { topic: deliveries, outcome: 'refused' }),
        moved(metricsBefore, metricsAfter, messages, { topic: events, outcome: 'acked' }),
        moved(metricsBefore, metricsAfter, 'asana_stream_kafka_publish_requests_total', { outcome: 'acked' }),
      ]).toEqual([1, 1, 1, 1]);
    } finally {
      await limited.onApplicationShutdown();
    }
  });

  it('after the broker refused part of a request, a later publish to a partition it wrote is really written', async () => {
    // Above the broker's limit on purpose, so the oversized message reaches it: the broker
    // writes partition 0's part and refuses partition 1's. kafkajs then rolls back partition 0's
    // sequence too, and the same producer's next message there reused a written sequence: the
    // broker acknowledged it as a duplicate and never wrote it (kafkajs#1005).
    const topic = names.physical(TOPICS.state.name);
    const { publisher: unguarded, producers } = recordedPublisher('publisher-int-partial', {
      maxMessageBytes: 5_000_000,
      maxBatchBytes: 5_000_000,
    });
    await unguarded.onModuleInit();
    try {
      const refused = unguarded.publish([
        {
          topic,
          messages: [
            { partition: 0, key: 'p0', value: JSON.stringify({ seq: 1 }) },
            { partition: 1, key: 'p1', value: JSON.stringify({ body: 'x'.repeat(1_200_000) }) },
          ],
        },
      ]);
      await expect(refused).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
      await unguarded.publish([{ topic, messages: [{ partition: 0, key: 'p0', value: JSON.stringify({ seq: 2 }) }] }]);

      const messages = await everyMessage(topic);
      expect(messages.map((m) => [m.partition, m.value])).toEqual([
        [0, { seq: 1 }],
        [0, { seq: 2 }],
      ]);
      expect(producers).toHaveLength(2);
    } finally {
      await unguarded.onApplicationShutdown();
    }
  });

  it('fails every caller of a request the broker refused for one message as retriable: it cannot tell whose', async () => {
    const topic = names.physical(changeTopic('tag').name);
    const { publisher: unguarded, requests } = recordedPublisher('publisher-int-shared-refusal', {
      maxMessageBytes: 5_000_000,
      maxBatchBytes: 5_000_000,
    });
    await unguarded.onModuleInit();
    try {
      const [innocent, culprit] = await Promise.all([
        settled(unguarded.publish([{ topic, messages: [jsonMessage('3001', { seq: 1 })] }])),
        settled(unguarded.publish([{ topic, messages: [jsonMessage('3002', { body: 'x'.repeat(1_200_000) })] }])),
      ]);
      expect(requests()).toBe(1);
      for (const outcome of [innocent, culprit]) {
        expect(outcome).toMatchObject({ ok: false, error: { code: 'MESSAGE_TOO_LARGE', disposition: 'retry' } });
      }
      // Published again, the innocent goes, alone or with others.
      await unguarded.publish([{ topic, messages: [jsonMessage('3001', { seq: 1 })] }]);
    } finally {
      await unguarded.onApplicationShutdown();
    }
  });

  it('replaces a fenced producer: the failed batch’s callers may retry, and everything queued behind it lands once, in order', async () => {
    const topic = names.physical(TOPICS.deliveries.name);
    // The broker's answer to the first producer's second request: OUT_OF_ORDER_SEQUENCE_NUMBER.
    const { publisher: fenced, producers } = recordedPublisher(
      'publisher-int-fenced',
      { maxBatchMessages: 50 },
      (producer, call) => (producer === 0 && call === 2 ? outOfOrderSequence() : undefined),
    );
    await fenced.onModuleInit();
    try {
      const metricsBefore = await metricsNow();
      const gids = Array.from({ length: 10 }, (_, i) => String(4000 + i));
      const outcomes = await Promise.all(
        Array.from({ length: 300 }, (_, seq) =>
          settled(fenced.publish([{ topic, messages: [jsonMessage(gids[seq % gids.length], { seq })] }])),
        ),
      );
      const failed = outcomes.flatMap((outcome, seq) => (outcome.ok ? [] : [seq]));
      // Six batches of 50; the second failed, and only its callers.
      expect(failed).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
      const error = (outcomes[50] as { error: AsanaStreamError }).error;
      expect(error).toMatchObject({ code: 'KAFKA_UNAVAILABLE', disposition: 'retry' });
      expect(classifyError(error.cause).code).toBe('PRODUCER_FENCED');
      expect(producers).toHaveLength(2);
      const metricsAfter = await metricsNow();
      expect([
        moved(metricsBefore, metricsAfter, 'asana_stream_kafka_producer_recoveries_total'),
        moved(metricsBefore, metricsAfter, 'asana_stream_kafka_publish_requests_total', { outcome: 'failed' }),
        moved(metricsBefore, metricsAfter, 'asana_stream_kafka_publish_requests_total', { outcome: 'acked' }),
        moved(metricsBefore, metricsAfter, 'asana_stream_kafka_publish_request_duration_seconds_count'),
        moved(metricsBefore, metricsAfter, 'asana_stream_kafka_publish_messages_total', { topic, outcome: 'failed' }),
        moved(metricsBefore, metricsAfter, 'asana_stream_kafka_publish_messages_total', { topic, outcome: 'acked' }),
      ]).toEqual([1, 1, 5, 6, 50, 250]);

      await fenced.publish([{ topic, messages: [jsonMessage(gids[0], { seq: 300 })] }]);
      const messages = await everyMessage(topic);
      const seqs = messages.map((m) => (m.value as { seq: number }).seq).sort((a, b) => a - b);
      expect(seqs).toEqual([
        ...Array.from({ length: 50 }, (_, i) => i),
        ...Array.from({ length: 201 }, (_, i) => 100 + i),
      ]);
      expectKeysInPublishOrder(messages);
    } finally {
      await fenced.onApplicationShutdown();
    }
  });

  it('rejects a publish to a topic that does not exist instead of creating it, and the next publish goes', async () => {
    await expect(
      publisher.publish([{ topic: names.physical('asana.no-such-topic'), messages: [jsonMessage('1', {})] }]),
    ).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE' });
    const admin = testKafka().admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(names.physical('asana.no-such-topic'));
    } finally {
      await admin.disconnect();
    }
    await publisher.publish([{ topic: names.physical(TOPICS.events.name), messages: [jsonMessage('1', {})] }]);
  });
});

interface EndedSpan {
  name: string;
  kind: SpanKind;
  spanContext(): SpanContext;
  parentSpanContext?: SpanContext;
  instrumentationScope: { name: string };
}

describe('KafkaPublisher and trace context, with the kafkajs instrumentation on', () => {
  const ended: EndedSpan[] = [];
  let sdk: NodeSDK;
  let instrumentation: { unpatch(exports: unknown): void };
  let names: TopicNames;

  beforeAll(async () => {
    sdk = new NodeSDK({
      serviceName: 'publisher-int',
      spanProcessors: [
        {
          onStart: () => undefined,
          onEnd: (span: EndedSpan) => ended.push(span),
          forceFlush: async () => undefined,
          shutdown: async () => undefined,
        },
      ],
      metricReaders: [],
      logRecordProcessors: [],
      instrumentations: [],
    });
    sdk.start();
    // Jest's module registry hides kafkajs from the instrumentation's require hook, so apply its
    // patch to the kafkajs this file loaded, as the hook does in the apps.
    const kafkajsInstrumentation = new KafkaJsInstrumentation({ enabled: false });
    const definition = (
      kafkajsInstrumentation as unknown as {
        init(): { patch(exports: unknown): unknown; unpatch(exports: unknown): void };
      }
    ).init();
    definition.patch(kafkajs);
    instrumentation = definition;
    names = await createTestTopics();
  });

  afterAll(async () => {
    instrumentation.unpatch(kafkajs);
    await sdk.shutdown();
  });

  it('stamps each caller’s messages with a producer span of its own trace, also when they share one request', async () => {
    const topic = names.physical(TOPICS.events.name);
    const { publisher, requests } = recordedPublisher('publisher-int-trace');
    await publisher.onModuleInit();
    const tracer = trace.getTracer('publisher-int');
    try {
      const callers = await Promise.all(
        ['5001', '5002', '5003'].map((gid) =>
          tracer.startActiveSpan(`caller ${gid}`, async (span) => {
            await publisher.publish([{ topic, messages: [jsonMessage(gid, { gid })] }]);
            span.end();
            return { gid, spanContext: span.spanContext() };
          }),
        ),
      );
      expect(requests()).toBe(1);

      const sends = ended.filter((span) => span.name === `send ${topic}`);
      // Ours only: the instrumentation's per-message spans of the shared request are suppressed.
      expect(sends.map((span) => [span.kind, span.instrumentationScope.name])).toEqual(
        callers.map(() => [SpanKind.PRODUCER, 'asana-stream-kafka']),
      );
      const messages = await everyMessage(topic);
      expect(messages).toHaveLength(3);
      for (const caller of callers) {
        const send = sends.find((span) => span.parentSpanContext?.spanId === caller.spanContext.spanId);
        expect(send?.spanContext().traceId).toBe(caller.spanContext.traceId);
        const message = messages.find((m) => m.key === caller.gid);
        expect(message?.headers.traceparent).toBe(`00-${caller.spanContext.traceId}-${send?.spanContext().spanId}-01`);
      }
    } finally {
      await publisher.onApplicationShutdown();
    }
  });
});

const run = promisify(execFile);
const REPO = join(__dirname, '../../..');

/** `count` distinct ports nothing listens on now. */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

describe('KafkaPublisherReadinessCheck through a broker outage', () => {
  // A broker of this test's own (scripts/kafka.sh with its own home and ports): the shared one
  // on 9092 serves everyone else's tests and must never stop.
  let home: string;
  let settings: string[];
  let broker: string;
  // `env NAME=value ... bash scripts/kafka.sh`: the script's settings on top of this environment.
  const kafkaSh = (command: 'start' | 'stop') =>
    run('env', [...settings, 'bash', join(REPO, 'scripts/kafka.sh'), command], { timeout: 120_000 });

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'publisher-readiness-'));
    // The jars the shared broker already resolved, instead of a Maven download per run.
    const jars = join(REPO, '.local/kafka/lib');
    if (existsSync(join(jars, '.pom.sha256'))) await symlink(jars, join(home, 'lib'));
    const [port, controllerPort] = await freePorts(2);
    broker = `127.0.0.1:${port}`;
    settings = [`KAFKA_HOME_DIR=${home}`, `KAFKA_PORT=${port}`, `KAFKA_CONTROLLER_PORT=${controllerPort}`];
    await kafkaSh('start');
  }, 180_000);

  afterAll(async () => {
    if (settings) await kafkaSh('stop');
    await rm(home, { recursive: true, force: true });
  }, 60_000);

  it('reports not ready within seconds of the broker stopping, and ready again once it is back', async () => {
    const kafka = new Kafka({ clientId: 'publisher-readiness', brokers: [broker], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'readiness', numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const publisher = new KafkaPublisher(kafka);
    const check = new KafkaPublisherReadinessCheck(publisher);
    /** One probe, as Kubernetes runs it: it must answer within the probe's bound. */
    const probe = async () => {
      const started = Date.now();
      const problem = await check.problem();
      expect(Date.now() - started).toBeLessThan(2500);
      return problem;
    };
    await expect(probe()).resolves.toBe('the Kafka producer is not connected');
    await publisher.onModuleInit();
    try {
      await publisher.publish([{ topic: 'readiness', messages: [jsonMessage('1', { seq: 1 })] }]);
      await expect(probe()).resolves.toBeNull();

      await kafkaSh('stop');
      const stopped = Date.now();
      const problem = await waitFor('not ready', async () => (await probe()) ?? undefined, {
        timeoutMs: 10_000,
        intervalMs: 500,
      });
      expect(Date.now() - stopped).toBeLessThan(5000);
      expect(problem).toMatch(/no Kafka broker answered/);
      // A publish meanwhile fails (after kafkajs' own retries) rather than waiting for the broker.
      await expect(
        publisher.publish([{ topic: 'readiness', messages: [jsonMessage('1', { seq: 2 })] }]),
      ).rejects.toMatchObject({ disposition: 'retry' });
      await expect(probe()).resolves.not.toBeNull();

      await kafkaSh('start');
      const restarted = Date.now();
      await waitFor('ready again', async () => (await probe()) === null, { timeoutMs: 30_000, intervalMs: 500 });
      expect(Date.now() - restarted).toBeLessThan(10_000);
      await publisher.publish([{ topic: 'readiness', messages: [jsonMessage('1', { seq: 3 })] }]);
    } finally {
      await publisher.onApplicationShutdown();
    }
    await expect(probe()).resolves.toBe('the Kafka producer is not connected');
  }, 180_000);
});
