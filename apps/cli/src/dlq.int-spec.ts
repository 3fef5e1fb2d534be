import { Controller, type INestMicroservice } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Partitioners, type Producer } from 'kafkajs';
import { AsanaApiError } from '@asana-stream/asana';
import { allTopics, messageDecoder, TOPICS, type AsanaEventEnvelope, type TopicNames } from '@asana-stream/contracts';
import {
  deleteTopics,
  KafkaConsumerErrorFilter,
  KafkaConsumerServer,
  KafkaPublisher,
  type ConsumedMessageContext,
  type ConsumedMessageInfo,
} from '@asana-stream/kafka';
import {
  asanaTaskEvent,
  createTestDatabase,
  createTestTopics,
  runCli,
  testKafka,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import type { PipelineStatus } from './commands/status.command';

/** The cli as operators run it, on this test's topics. */
const cli = (env: Record<string, string>, ...args: string[]) => runCli(env, args);

/** Whether the handler refuses gid 9000 the way Asana refuses a bad request (400: dead-letter). */
let refusing = true;
const handled: { gid: string; info: ConsumedMessageInfo }[] = [];

@Controller()
class EventsHandler {
  @EventPattern(TOPICS.events.name)
  async handle(@Payload() envelope: AsanaEventEnvelope, @Ctx() context: ConsumedMessageContext): Promise<void> {
    const { gid } = envelope.event.resource;
    if (gid === '9000' && refusing) throw new AsanaApiError('REJECTED', 'Asana answered 400: invalid request', 400);
    handled.push({ gid, info: context.info });
  }
}

const envelope = (gid: string): AsanaEventEnvelope => ({
  eventId: `event-${gid}`,
  source: 'webhook',
  subscriptionId: 'sub-1',
  deliveryId: null,
  receivedAt: new Date().toISOString(),
  event: asanaTaskEvent({ resource: { gid, resource_type: 'task' } }),
});

describe('asana-stream dlq: the dead-letter topics as queues an operator works through', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let env: Record<string, string>;
  let producer: Producer;
  let publisher: KafkaPublisher;
  let app: INestMicroservice;

  const status = async () => JSON.parse((await cli(env, 'status', '--json')).stdout) as PipelineStatus;
  const handledGids = () => handled.map((h) => h.gid);

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    env = { DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix };
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    publisher = new KafkaPublisher(testKafka());
    await publisher.onModuleInit();
    const server = new KafkaConsumerServer({
      kafka: testKafka(),
      groupId: `dlq-int-${names.prefix}`,
      names,
      topics: [TOPICS.events.name],
      decoders: { [TOPICS.events.name]: messageDecoder(TOPICS.events.name) },
      deadLetters: publisher,
    });
    const moduleRef = await Test.createTestingModule({ controllers: [EventsHandler] }).compile();
    app = moduleRef.createNestMicroservice({ strategy: server, logger: false });
    app.useGlobalFilters(new KafkaConsumerErrorFilter());
    await app.listen();
  });

  afterAll(async () => {
    await app.close();
    await publisher.onApplicationShutdown();
    await producer.disconnect();
    await deleteTopics(testKafka(), allTopics(), names);
    await db.drop();
  });

  it('parks only the message a handler refuses for its own fault; the other gids are handled', async () => {
    await producer.send({
      topic: names.physical(TOPICS.events.name),
      acks: -1,
      messages: ['9000', '9001', '9002'].map((gid) => ({
        key: gid,
        value: JSON.stringify(envelope(gid)),
        headers: { 'x-origin': 'dlq-int-spec' },
      })),
    });
    await waitFor('the other gids handled', () => handledGids().includes('9001') && handledGids().includes('9002'));
    await waitFor('the refused one parked', async () => (await status()).deadLetters['asana.events.dlq'] === 1);
    expect(handledGids()).not.toContain('9000');
    expect((await status()).deadLetters).toEqual({ 'asana.events.dlq': 1, 'asana.state.dlq': 0 });
  });

  it('lists what is pending per dead-letter topic, with why and when', async () => {
    const run = await cli(env, 'dlq', 'list', '--json');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual([
      {
        topic: 'asana.events.dlq',
        physical: names.physical('asana.events.dlq'),
        pending: 1,
        kept: 1,
        entries: [
          {
            entry: expect.stringMatching(/^\d:0$/),
            partition: expect.any(Number),
            offset: 0,
            key: '9000',
            code: 'REJECTED',
            attempts: 1,
            lastFailureAt: expect.stringMatching(/^\d{4}-/),
            reason: 'Asana answered 400: invalid request',
            source: expect.stringMatching(
              new RegExp(`^${names.physical('asana.events').replace(/\./g, '\\.')}/\\d/\\d+$`),
            ),
          },
        ],
      },
      { topic: 'asana.state.dlq', physical: names.physical('asana.state.dlq'), pending: 0, kept: 0, entries: [] },
    ]);
    const text = await cli(env, 'dlq', 'list');
    expect(text.stdout).toMatch(/^asana\.events\.dlq: 1 pending of 1 /m);
    expect(text.stdout).toMatch(/^ {2}\d:0 +9000 +REJECTED +1 +\S+ +Asana answered 400: invalid request$/m);
    expect(text.stdout).toMatch(/^asana\.state\.dlq: nothing pending \(0 in the topic, all handled\)$/m);
  });

  it('shows the next pending entry whole: its headers and its value as JSON', async () => {
    const run = await cli(env, 'dlq', 'show', 'asana.events');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^asana\.events\.dlq \d:0 {2}key 9000 {2}dead-lettered \d{4}-/);
    expect(run.stdout).toContain('  x-origin: dlq-int-spec\n');
    expect(run.stdout).toContain('  x-dlq-code: REJECTED\n');
    expect(run.stdout).toMatch(/^value \(JSON, \d+ bytes\):\n\{\n {2}"eventId": "event-9000",/m);
  });

  it('re-drives an entry to its source topic, where the consumer now handles it, and marks it handled', async () => {
    refusing = false;
    const run = await cli(env, 'dlq', 'redrive', 'asana.events.dlq', '--count', '1');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `re-driven: 1 from asana.events.dlq to ${names.physical('asana.events')}; still pending: 0\n`,
    );
    await waitFor('the re-driven message handled', () => handledGids().includes('9000'));
    const redriven = handled.find((h) => h.gid === '9000')!.info;
    expect(redriven.headers).toEqual({
      'x-origin': 'dlq-int-spec',
      'x-redriven-from': expect.stringMatching(
        new RegExp(`^${names.physical('asana.events.dlq').replace(/\./g, '\\.')}/\\d/0$`),
      ),
    });
    expect((await status()).deadLetters).toEqual({ 'asana.events.dlq': 0, 'asana.state.dlq': 0 });
  });

  it('discards an entry only with --yes, and keeps it in the topic', async () => {
    await producer.send({
      topic: names.physical(TOPICS.events.name),
      acks: -1,
      messages: [{ key: '9100', value: '{"this is": not JSON' }],
    });
    await waitFor('the poison parked', async () => (await status()).deadLetters['asana.events.dlq'] === 1);

    const unconfirmed = await cli(env, 'dlq', 'discard', 'asana.events', '--count', '1');
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toMatch(/^asana-stream: discarding means those messages are never processed .*--yes/);

    const run = await cli(env, 'dlq', 'discard', 'asana.events', '--count', '1', '--yes');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('discarded: 1 from asana.events.dlq; still pending: 0\n');
    expect(run.stderr).toMatch(/^discarded asana\.events\.dlq \d:\d \(key 9100, INVALID_MESSAGE\)$/m);
    expect((await status()).deadLetters['asana.events.dlq']).toBe(0);
    const list = JSON.parse((await cli(env, 'dlq', 'list', 'asana.events', '--json')).stdout);
    expect(list).toEqual([expect.objectContaining({ pending: 0, kept: 2 })]);
  });

  it('says in one line what is wrong: an unknown topic, nothing pending, how many not said', async () => {
    const unknown = await cli(env, 'dlq', 'list', 'asana.changes.task');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      'asana-stream: "asana.changes.task" is not a dead-letter topic: name one of asana.events.dlq, asana.state.dlq (or the topic it serves: asana.events, asana.state)\n',
    );
    const empty = await cli(env, 'dlq', 'redrive', 'asana.state', '--all');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe(
      'asana-stream: nothing pending in asana.state.dlq (0 entries in the topic, all handled)\n',
    );
    const vague = await cli(env, 'dlq', 'redrive', 'asana.events.dlq');
    expect(vague.stderr).toBe('asana-stream: say how many entries to redrive: --count N or --all\n');
    const nowhere = await cli(env, 'dlq', 'show', 'asana.events', '--partition', '0', '--offset', '99');
    expect(nowhere.stderr).toMatch(/^asana-stream: asana\.events\.dlq partition 0 holds no entry at offset 99/);
  });

  it('shows the dead letters pending on the one status line', async () => {
    const run = await cli(env, 'status');
    expect(run.stdout.trim()).toMatch(/ \| dlq: events 0, state 0$/);
  });
});
