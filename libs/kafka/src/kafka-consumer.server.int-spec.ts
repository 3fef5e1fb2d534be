import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, type Type } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Partitioners, type Consumer, type IHeaders, type Producer } from 'kafkajs';
import { AsanaApiError } from '@asana-stream/asana';
import {
  deadLetterTopic,
  messageDecoder,
  TOPICS,
  TopicNames,
  type AsanaEventEnvelope,
  type ResourceStateMessage,
} from '@asana-stream/contracts';
import { AsanaStreamError } from '@asana-stream/errors';
import { metricsExposition, parseExposition, sumOf } from '@asana-stream/metrics';
import { asanaTaskEvent, testKafka, waitFor } from '@asana-stream/testing';
import {
  ConsumedBatchContext,
  ConsumedMessageContext,
  type ConsumedBatchInfo,
  type ConsumedMessage,
  type ConsumedMessageInfo,
} from './consumed-message';
import { KafkaConsumerErrorFilter } from './kafka-consumer-error.filter';
import { KafkaConsumerServer, type KafkaConsumerServerOptions } from './kafka-consumer.server';
import { KafkaPublisher } from './kafka-publisher';
import { deleteTopics, ensureTopics } from './topic-admin';

type Handler<T> = (value: T, info: ConsumedMessageInfo) => Promise<void>;

/** What the test's handlers do; each test sets its own. */
const behaviour: {
  events: Handler<AsanaEventEnvelope>;
  state: Handler<ResourceStateMessage>;
  stateBatch: (messages: ConsumedMessage<ResourceStateMessage>[], info: ConsumedBatchInfo) => Promise<void>;
} = {
  events: async () => undefined,
  state: async () => undefined,
  stateBatch: async () => undefined,
};

@Controller()
class EventsHandler {
  @EventPattern(TOPICS.events.name)
  handle(@Payload() value: AsanaEventEnvelope, @Ctx() context: ConsumedMessageContext): Promise<void> {
    return behaviour.events(value, context.info);
  }
}

@Controller()
class StateHandler {
  @EventPattern(TOPICS.state.name)
  handle(@Payload() value: ResourceStateMessage, @Ctx() context: ConsumedMessageContext): Promise<void> {
    return behaviour.state(value, context.info);
  }
}

@Controller()
class StateBatchHandler {
  @EventPattern(TOPICS.state.name, { batch: true })
  handle(@Payload() messages: ConsumedMessage<ResourceStateMessage>[], @Ctx() context: ConsumedBatchContext) {
    return behaviour.stateBatch(messages, context.info);
  }
}

const TOPIC_SPECS = [
  TOPICS.events,
  TOPICS.state,
  deadLetterTopic(TOPICS.events.name),
  deadLetterTopic(TOPICS.state.name),
];

const envelope = (gid: string, n = 0): AsanaEventEnvelope => ({
  eventId: `${gid}-${n}`,
  source: 'webhook',
  subscriptionId: 'sub-1',
  deliveryId: null,
  receivedAt: new Date().toISOString(),
  event: asanaTaskEvent({ resource: { gid, resource_type: 'task' } }),
});

const state = (gid: string, version: number): ResourceStateMessage => ({
  gid,
  type: 'task',
  version,
  versionSource: 'modified_at',
  deleted: false,
  state: { gid, resource_type: 'task', name: `v${version}` },
  fetchedAt: new Date().toISOString(),
  causes: [],
});

interface Raw {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  partition: number;
  offset: string;
}

describe('KafkaConsumerServer on a real broker', () => {
  // A producer and a dead-letter publisher per test: kafkajs keeps refreshing the metadata of
  // every topic a producer wrote to, and each test deletes its topics.
  let producer: Producer;
  let deadLetters: KafkaPublisher;
  const cleanup: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    behaviour.events = async () => undefined;
    behaviour.state = async () => undefined;
    behaviour.stateBatch = async () => undefined;
  });

  /** This test's own topics (source and dead-letter), producer and dead-letter publisher. */
  async function topics(): Promise<TopicNames> {
    const names = new TopicNames(`test-${randomBytes(4).toString('hex')}.`);
    await ensureTopics(testKafka(), TOPIC_SPECS, names);
    cleanup.push(() => deleteTopics(testKafka(), TOPIC_SPECS, names));
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    cleanup.push(() => producer.disconnect());
    deadLetters = new KafkaPublisher(testKafka());
    await deadLetters.onModuleInit();
    cleanup.push(() => deadLetters.onApplicationShutdown());
    return names;
  }

  async function start(
    controllers: Type[],
    options: Omit<KafkaConsumerServerOptions, 'kafka' | 'groupId'> & { groupId?: string },
  ): Promise<{ server: KafkaConsumerServer; close: () => Promise<void>; groupId: string }> {
    const groupId = options.groupId ?? `consumer-int-${randomBytes(4).toString('hex')}`;
    const server = new KafkaConsumerServer({ kafka: testKafka(), groupId, ...options });
    const moduleRef = await Test.createTestingModule({ controllers }).compile();
    const app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    app.useGlobalFilters(new KafkaConsumerErrorFilter());
    await app.listen();
    let closed: Promise<void> | undefined;
    const close = () => (closed ??= app.close());
    cleanup.push(close);
    return { server, close, groupId };
  }

  async function produce(
    topic: string,
    messages: { key: string; value: unknown; partition?: number; headers?: IHeaders }[],
  ) {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map(({ key, value, partition, headers }) => ({
        key,
        value: typeof value === 'string' ? value : JSON.stringify(value),
        partition,
        headers,
      })),
    });
  }

  /** Committed offset per partition (-1: none). */
  async function committed(groupId: string, topic: string): Promise<Map<number, number>> {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return new Map(offsets.partitions.map((p) => [p.partition, Number(p.offset)]));
    } finally {
      await admin.disconnect();
    }
  }

  async function endOffsets(topic: string): Promise<Map<number, number>> {
    const admin = testKafka().admin();
    await admin.connect();
    try {
      return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
    } finally {
      await admin.disconnect();
    }
  }

  async function committedToTheEnd(groupId: string, topic: string): Promise<boolean> {
    const [done, ends] = await Promise.all([committed(groupId, topic), endOffsets(topic)]);
    return [...ends].every(([partition, end]) => end === 0 || done.get(partition) === end);
  }

  /** Every record of a topic, bytes as text, read by a consumer of its own. */
  async function readAll(topic: string, count: number): Promise<Raw[]> {
    const records: Raw[] = [];
    // A short long-poll: disconnecting waits for the fetch in flight.
    const consumer = testKafka().consumer({
      groupId: `reader-${randomBytes(4).toString('hex')}`,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          records.push({
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
            partition,
            offset: message.offset,
          });
        },
      });
      await waitFor(`${count} records in ${topic}`, () => records.length >= count, { timeoutMs: 20_000 });
      return records;
    } finally {
      await consumer.disconnect();
    }
  }

  const totalIn = async (topic: string) => [...(await endOffsets(topic)).values()].reduce((a, b) => a + b, 0);

  it('handles every message of many keys across the partitions, each key in offset order, committing per batch', async () => {
    const names = await topics();
    const topic = names.physical(TOPICS.events.name);
    const handled = new Map<string, number[]>();
    const partitions = new Set<number>();
    let inFlight = 0;
    let mostInFlight = 0;
    behaviour.events = async (value, info) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await sleep(Math.floor(Math.random() * 4));
      const [gid, n] = value.eventId.split('-');
      handled.set(gid, [...(handled.get(gid) ?? []), Number(n)]);
      partitions.add(info.partition);
      inFlight--;
    };
    const { server, groupId } = await start([EventsHandler], {
      names,
      topics: [TOPICS.events.name],
      decoders: { [TOPICS.events.name]: messageDecoder(TOPICS.events.name) },
    });
    const consumer = server.unwrap<Consumer>();
    let commits = 0;
    consumer.on(consumer.events.COMMIT_OFFSETS, () => commits++);

    const gids = Array.from({ length: 60 }, (_, i) => String(1_300_000 + i));
    for (let n = 0; n < 10; n++)
      await produce(
        topic,
        gids.map((gid) => ({ key: gid, value: envelope(gid, n) })),
      );
    await waitFor('600 handled messages', () => [...handled.values()].flat().length >= 600, { timeoutMs: 30_000 });

    for (const gid of gids)
      expect({ gid, order: handled.get(gid) }).toEqual({ gid, order: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(partitions.size).toBe(TOPICS.events.partitions);
    expect(mostInFlight).toBeGreaterThan(1);
    await waitFor('offsets committed to the end', () => committedToTheEnd(groupId, topic), { timeoutMs: 15_000 });
    // One commit covers a batch (often several partitions' batches), never a message.
    expect(commits).toBeLessThan(60);
    expect(server.readinessProblem()).toBeNull();
  });

  it('gives an @EventPattern(topic, { batch: true }) handler whole partition batches, in offset order', async () => {
    const names = await topics();
    const topic = names.physical(TOPICS.state.name);
    const calls: { partition: number; offsets: number[]; versions: Map<string, number[]> }[] = [];
    behaviour.stateBatch = async (messages, info) => {
      const versions = new Map<string, number[]>();
      for (const { value } of messages) versions.set(value.gid, [...(versions.get(value.gid) ?? []), value.version]);
      calls.push({ partition: info.partition, offsets: messages.map((m) => Number(m.info.offset)), versions });
    };
    const { groupId } = await start([StateBatchHandler], {
      names,
      topics: [TOPICS.state.name],
      decoders: { [TOPICS.state.name]: messageDecoder(TOPICS.state.name) },
    });
    const gids = Array.from({ length: 12 }, (_, i) => String(1_400_000 + i));
    await produce(
      topic,
      Array.from({ length: 10 }, (_, v) => gids.map((gid) => ({ key: gid, value: state(gid, 1000 + v) }))).flat(),
    );
    await waitFor('120 states', () => calls.reduce((sum, call) => sum + call.offsets.length, 0) >= 120);

    expect(Math.max(...calls.map((call) => call.offsets.length))).toBeGreaterThan(1);
    for (const call of calls) expect(call.offsets).toEqual([...call.offsets].sort((a, b) => a - b));
    for (const gid of gids) {
      const versions = calls.flatMap((call) => call.versions.get(gid) ?? []);
      expect({ gid, versions }).toEqual({ gid, versions: Array.from({ length: 10 }, (_, v) => 1000 + v) });
    }
    await waitFor('offsets committed to the end', () => committedToTheEnd(groupId, topic));
  });

  it('dead-letters a message that does not decode or validate, on asana.events and asana.state, while the rest flows on', async () => {
    const names = await topics();
    const [events, states] = [names.physical(TOPICS.events.name), names.physical(TOPICS.state.name)];
    const handled: string[] = [];
    behaviour.events = async (value, info) => void handled.push(`events:${info.key}:${value.eventId}`);
    behaviour.state = async (value, info) => void handled.push(`state:${info.key}:${value.version}`);
    const { server, groupId } = await start([EventsHandler, StateHandler], {
      names,
      topics: [TOPICS.events.name, TOPICS.state.name],
      decoders: {
        [TOPICS.events.name]: messageDecoder(TOPICS.events.name),
        [TOPICS.state.name]: messageDecoder(TOPICS.state.name),
      },
      deadLetters,
    });
    const published = Date.now();
    // Everything on partition 0: the poison sits in front of other gids, and of its own gid's next message.
    await produce(events, [
      { key: '1001', value: envelope('1001'), partition: 0 },
      { key: '1002', value: '{"eventId": "1002", oops', partition: 0, headers: { 'x-origin': 'int-spec' } },
      { key: '1003', value: envelope('1003'), partition: 0 },
      { key: '1004', value: envelope('1004'), partition: 0 },
      { key: '1002', value: envelope('1002', 1), partition: 0 },
    ]);
    await produce(states, [
      { key: '2001', value: state('2001', 1), partition: 0 },
      { key: '2002', value: { ...state('2002', 1), version: 'yesterday' }, partition: 0 },
      { key: '2003', value: state('2003', 1), partition: 0 },
    ]);

    await waitFor('the valid messages', () => handled.length >= 6, { timeoutMs: 20_000 });
    expect(Date.now() - published).toBeLessThan(10_000);
    expect(handled.sort()).toEqual([
      'events:1001:1001-0',
      'events:1002:1002-1',
      'events:1003:1003-0',
      'events:1004:1004-0',
      'state:2001:1',
      'state:2003:1',
    ]);

    const [parkedEvent] = await readAll(names.physical(deadLetterTopic(TOPICS.events.name).name), 1);
    expect(parkedEvent).toMatchObject({
      key: '1002',
      value: '{"eventId": "1002", oops',
      partition: expect.any(Number),
      headers: {
        'x-origin': 'int-spec',
        'x-dlq-code': 'INVALID_MESSAGE',
        'x-dlq-message': expect.stringMatching(/^asana\.events: the message is not acceptable JSON/),
        'x-dlq-source-topic': events,
        'x-dlq-source-partition': '0',
        'x-dlq-source-offset': '1',
        'x-dlq-attempts': '1',
        'x-dlq-first-failure-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        'x-dlq-last-failure-at': expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      },
    });
    const [parkedState] = await readAll(names.physical(deadLetterTopic(TOPICS.state.name).name), 1);
    expect(parkedState).toMatchObject({
      key: '2002',
      headers: {
        'x-dlq-code': 'INVALID_MESSAGE',
        'x-dlq-message': expect.stringMatching(/not a valid ResourceStateMessage: version: /),
        'x-dlq-source-topic': states,
        'x-dlq-source-offset': '1',
      },
    });
    expect(await totalIn(names.physical(deadLetterTopic(TOPICS.events.name).name))).toBe(1);
    await waitFor(
      'both topics committed to the end',
      async () => (await committedToTheEnd(groupId, events)) && committedToTheEnd(groupId, states),
    );
    expect(server.readinessProblem()).toBeNull();
  });

  it('retries a retriable failure with backoff while other gids of its partition go on, and handles it once', async () => {
    const names = await topics();
    const topic = names.physical(TOPICS.events.name);
    const attempts: number[] = [];
    const done = new Map<string, number>();
    behaviour.events = async (_value, info) => {
      if (info.key === '3000') {
        attempts.push(info.attempt);
        if (info.attempt < 3) {
          await sleep(500);
          throw new AsanaStreamError('UNAVAILABLE', 'Asana answered 503');
        }
      }
      done.set(info.key!, Date.now());
    };
    const { server, groupId } = await start([EventsHandler], {
      names,
      topics: [TOPICS.events.name],
      deadLetters,
      retry: { baseDelayMs: 200 },
    });
    const published = Date.now();
    const others = Array.from({ length: 8 }, (_, i) => String(3001 + i));
    await produce(topic, [
      { key: '3000', value: envelope('3000'), partition: 0 },
      ...others.map((gid) => ({ key: gid, value: envelope(gid), partition: 0 })),
    ]);

    await waitFor('the retried message', () => done.has('3000'), { timeoutMs: 20_000 });
    expect(attempts).toEqual([1, 2, 3]);
    // Its two failed attempts took a second; the other gids behind it on the partition did not wait for them.
    expect(done.get('3000')! - published).toBeGreaterThanOrEqual(1000);
    for (const gid of others)
      expect({ gid, handledBeforeIt: done.get(gid)! < done.get('3000')! }).toEqual({ gid, handledBeforeIt: true });
    await waitFor('offsets committed to the end', () => committedToTheEnd(groupId, topic));
    expect(await totalIn(names.physical(deadLetterTopic(TOPICS.events.name).name))).toBe(0);
    expect(server.readinessProblem()).toBeNull();
  });

  it('halts on UNAUTHORIZED: unready, nothing dead-lettered or committed past it, and drains once it recovers', async () => {
    const names = await topics();
    const topic = names.physical(TOPICS.events.name);
    let authorized = false;
    const handled: string[] = [];
    behaviour.events = async (_value, info) => {
      if (info.key === '4000' && !authorized) throw new AsanaApiError('UNAUTHORIZED', 'Asana answered 401', 401);
      handled.push(info.key!);
    };
    const { server, groupId } = await start([EventsHandler], {
      names,
      topics: [TOPICS.events.name],
      deadLetters,
      retry: { haltDelayMs: 200, haltMaxDelayMs: 400 },
      commitIntervalMs: 300,
    });
    await produce(topic, [
      { key: '4001', value: envelope('4001'), partition: 0 },
      { key: '4000', value: envelope('4000'), partition: 0 },
      { key: '4002', value: envelope('4002'), partition: 0 },
      { key: '4003', value: envelope('4003'), partition: 1 },
    ]);

    await waitFor('readiness to report the halt', () => server.readinessProblem()?.includes('halted: UNAUTHORIZED'));
    // The other gids of its batch go on. 4003, on partition 1, goes on too when kafkajs fetched it with
    // the halted batch; fetched later, it waits for the halt (kafkajs fetches again only once every
    // batch of its last fetch has ended).
    await waitFor('the other gids of its batch', () => handled.includes('4001') && handled.includes('4002'));
    // The metrics say the same: halted, not ready, the halted message tried again and again.
    const gauge = async (name: string, labels: Record<string, string>) =>
      sumOf(parseExposition((await metricsExposition()).text), name, labels);
    expect(await gauge('asana_stream_kafka_consumer_halted', { group: groupId })).toBe(1);
    expect(await gauge('asana_stream_kafka_consumer_ready', { group: groupId })).toBe(0);
    await waitFor('retries counted', async () => {
      return (await gauge('asana_stream_kafka_consumer_messages_total', { topic, outcome: 'retried' })) >= 1;
    });
    // The partition's commit stops in front of the halted message, whatever is done behind it.
    await waitFor('the prefix before it committed', async () => (await committed(groupId, topic)).get(0) === 1);
    await sleep(1000);
    expect((await committed(groupId, topic)).get(0)).toBe(1);
    expect(await totalIn(names.physical(deadLetterTopic(TOPICS.events.name).name))).toBe(0);

    authorized = true;
    await waitFor('the halted message handled', () => handled.includes('4000'), { timeoutMs: 10_000 });
    await waitFor('readiness back', () => server.readinessProblem() === null);
    await waitFor('offsets committed to the end', () => committedToTheEnd(groupId, topic));
    expect([...handled].sort()).toEqual(['4000', '4001', '4002', '4003']);
    expect(await gauge('asana_stream_kafka_consumer_halted', { group: groupId })).toBe(0);
    expect(await gauge('asana_stream_kafka_consumer_ready', { group: groupId })).toBe(1);
    expect(await gauge('asana_stream_kafka_consumer_messages_total', { topic, outcome: 'done' })).toBe(4);
    expect(await gauge('asana_stream_kafka_consumer_messages_total', { topic, outcome: 'dead_lettered' })).toBe(0);
    expect(await gauge('asana_stream_kafka_consumer_lag_messages', { topic })).toBe(0);
  });

  it('closes within seconds while a handler waits out a long backoff, leaving its message to the next member', async () => {
    const names = await topics();
    const topic = names.physical(TOPICS.events.name);
    let waiting = false;
    let patient = true;
    const handled: string[] = [];
    behaviour.events = async (_value, info) => {
      if (info.key === '5001' && patient) {
        waiting = true;
        // Asana's Retry-After, say: the wait ends when the consumer closes.
        await sleep(60_000, undefined, { signal: info.signal });
      }
      handled.push(info.key!);
    };
    const first = await start([EventsHandler], { names, topics: [TOPICS.events.name], deadLetters });
    await produce(topic, [
      { key: '5000', value: envelope('5000'), partition: 0 },
      { key: '5001', value: envelope('5001'), partition: 0 },
    ]);
    await waitFor('the handler to wait', () => waiting && handled.includes('5000'));

    const closing = Date.now();
    await first.close();
    expect(Date.now() - closing).toBeLessThan(5000);
    expect((await committed(first.groupId, topic)).get(0)).toBe(1);
    expect(handled).toEqual(['5000']);

    patient = false;
    await start([EventsHandler], { names, topics: [TOPICS.events.name], deadLetters, groupId: first.groupId });
    await waitFor('the message redelivered to the next member', () => handled.includes('5001'), { timeoutMs: 20_000 });
    await waitFor('offsets committed to the end', () => committedToTheEnd(first.groupId, topic));
  });
});
