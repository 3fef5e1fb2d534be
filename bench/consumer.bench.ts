import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern } from '@nestjs/microservices';
import type { ConsumerPatternExtras } from '@asana-stream/kafka';
import type { Admin, Kafka } from 'kafkajs';
import { TOPICS, TopicNames } from '@asana-stream/contracts';
import { deleteTopics, ensureTopics, KafkaConsumerServer } from '@asana-stream/kafka';
import { benchEvent, eventMessage } from './lib/asana-deliveries';
import { defineBenchmark, type BenchContext } from './lib/benchmark';
import { benchKafka, committedTotal, endOffsetTotal, idempotentProducer, produceAll } from './lib/kafka';
import { round } from './lib/stats';

/** Distinct keys of the backlog: spread over the partitions as gids are. */
const KEYS = 10_000;
const PRODUCE_BATCH = 1000;
/** How often the group's committed offsets are read while a consumer drains. */
const POLL_MS = 10;

@Controller()
class NoopEventsConsumer {
  @EventPattern(TOPICS.events.name)
  handle(): void {}
}

@Module({ controllers: [NoopEventsConsumer] })
class NoopConsumerModule {}

/** The shape the enricher and the projector use: a partition's messages in one call. */
@Controller()
class NoopBatchEventsConsumer {
  @EventPattern(TOPICS.events.name, { batch: true } satisfies ConsumerPatternExtras)
  handle(): void {}
}

@Module({ controllers: [NoopBatchEventsConsumer] })
class NoopBatchConsumerModule {}

interface ConsumerSession {
  kafka: Kafka;
  admin: Admin;
  names: TopicNames;
  topic: string;
  messages: number;
  valueBytes: number;
}

interface Drain {
  /** Messages committed per second, from the consumer's start to the last commit observed. */
  rate: number;
  seconds: number;
  committed: number;
  /** The drain hit the time cap before committing every message. */
  capped: boolean;
}

/** A consumer made ready to start: `start` connects it and resolves once it runs. */
interface PreparedConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Prepares a consumer (outside the clock: building a Nest application's modules is not the
 * transport's work), starts it and waits until its group's committed offsets reach the end of
 * the backlog, or the time cap: the clock runs from before `start` (connecting and joining the
 * group count) to the poll that saw the last commit.
 */
async function drain(
  session: ConsumerSession,
  ctx: BenchContext,
  groupId: string,
  prepare: () => Promise<PreparedConsumer>,
): Promise<Drain> {
  const consumer = await prepare();
  const begin = performance.now();
  const stop = () => consumer.stop();
  try {
    await consumer.start();
    const deadline = begin + ctx.options.drainTimeoutS * 1000;
    for (;;) {
      const committed = await committedTotal(session.admin, groupId, session.topic);
      const seconds = (performance.now() - begin) / 1000;
      const capped = performance.now() > deadline;
      if (committed >= session.messages || capped) return { rate: committed / seconds, seconds, committed, capped };
      await sleep(POLL_MS);
    }
  } finally {
    await stop();
  }
}

/** The baseline: kafkajs' own consumer, `eachBatch` doing nothing, kafkajs committing after each batch. */
function bareEachBatch(session: ConsumerSession, groupId: string) {
  return (): Promise<PreparedConsumer> => {
    const consumer = session.kafka.consumer({ groupId, sessionTimeout: 30_000, allowAutoTopicCreation: false });
    return Promise.resolve({
      async start() {
        await consumer.connect();
        await consumer.subscribe({ topics: [session.topic], fromBeginning: true });
        await consumer.run({ eachBatch: async () => {} });
      },
      stop: () => consumer.disconnect(),
    });
  };
}

/** The subject: libs/kafka's transport serving a Nest microservice whose handler does nothing. */
function consumerServer(session: ConsumerSession, groupId: string, module: typeof NoopConsumerModule) {
  return async (): Promise<PreparedConsumer> => {
    const strategy = new KafkaConsumerServer({
      kafka: session.kafka,
      groupId,
      names: session.names,
      topics: [TOPICS.events.name],
    });
    const app = await NestFactory.createMicroservice(module, { strategy, logger: ['error'] });
    await app.init();
    return { start: () => app.listen(), stop: () => app.close() };
  };
}

const BARE = 'bare eachBatch';
const BATCH_HANDLER = 'KafkaConsumerServer with a batch handler';
const MESSAGE_HANDLER = 'KafkaConsumerServer with a per-message handler';

const drainDetail = (d: Drain, total: number) =>
  d.capped
    ? `committed ${d.committed} of ${total} within the ${round(d.seconds, 1)} s cap, so its rate is measured over that part`
    : `drained in ${round(d.seconds, 2)} s`;

export default defineBenchmark<ConsumerSession>({
  name: 'consumer',
  description:
    "libs/kafka's KafkaConsumerServer (Nest microservice, no-op @EventPattern: a batch handler, and a per-message one) draining a backlog, against a bare kafkajs eachBatch no-op drain",
  figures: [
    {
      name: 'drain_rate_vs_bare_each_batch',
      unit: 'messages/s',
      baseline: 'bare kafkajs eachBatch no-op consumer draining the same backlog (commits after each batch)',
      higherIsBetter: true,
      target: { ratio: 0.7 },
      targetRule: '≥ 70 % of the bare eachBatch drain (a batch handler, as the enricher and the projector run)',
    },
    {
      name: 'drain_rate_per_message_handler_vs_bare_each_batch',
      unit: 'messages/s',
      baseline: 'bare kafkajs eachBatch no-op consumer draining the same backlog (commits after each batch)',
      higherIsBetter: true,
      target: { ratio: 0.7 },
      targetRule: '≥ 70 % of the bare eachBatch drain (a handler called once per message)',
    },
  ],

  async setup(ctx) {
    const names = new TopicNames(`${ctx.prefix}drain.`);
    const topic = names.physical(TOPICS.events.name);
    const kafka = benchKafka(ctx.brokers, 'asana-stream-bench-consumer');
    // A fresh topic with asana.events' partitions and configs.
    await ensureTopics(kafka, [TOPICS.events], names);
    ctx.onCleanup(async () => {
      await deleteTopics(kafka, [TOPICS.events], names);
    });
    const admin = kafka.admin();
    await admin.connect();
    ctx.onCleanup(() => admin.disconnect());
    ctx.onCleanup(async () => {
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(ctx.prefix));
      if (groups.length > 0) await admin.deleteGroups(groups);
    });

    const total = ctx.options.messages;
    const subscriptionId = randomUUID();
    const messages = Array.from({ length: total }, (_, n) => eventMessage(benchEvent(n % KEYS), subscriptionId));
    const valueBytes = Math.round(messages.reduce((sum, m) => sum + String(m.value).length, 0) / total);
    ctx.log(`producing a backlog of ${total} messages to ${topic}`);
    const producer = idempotentProducer(kafka);
    await producer.connect();
    try {
      await produceAll(producer, topic, messages, PRODUCE_BATCH);
    } finally {
      await producer.disconnect();
    }
    const end = await endOffsetTotal(admin, topic);
    if (end !== total) throw new Error(`the backlog holds ${end} messages, expected ${total}`);
    return { kafka, admin, names, topic, messages: total, valueBytes };
  },

  async run(session, ctx, run) {
    const groupId = (kind: string) => `${ctx.prefix}drain-${kind}-${run}`;
    const consumers = [
      { name: BARE, prepare: bareEachBatch(session, groupId('bare')), group: groupId('bare') },
      {
        name: BATCH_HANDLER,
        prepare: consumerServer(session, groupId('batch'), NoopBatchConsumerModule),
        group: groupId('batch'),
      },
      {
        name: MESSAGE_HANDLER,
        prepare: consumerServer(session, groupId('message'), NoopConsumerModule),
        group: groupId('message'),
      },
    ];
    // Rotate which consumer goes first, so a drift of the machine does not favour one side.
    for (let n = 0; n < run % consumers.length; n++) consumers.push(consumers.shift()!);
    const drains = new Map<string, Drain>();
    for (const consumer of consumers) {
      const result = await drain(session, ctx, consumer.group, consumer.prepare);
      drains.set(consumer.name, result);
      ctx.log(`${consumer.name}: ${round(result.rate)} messages/s, ${drainDetail(result, session.messages)}`);
    }
    const bare = drains.get(BARE)!;
    const sample = (subject: string) => {
      const server = drains.get(subject)!;
      return {
        value: server.rate,
        baselineValue: bare.rate,
        detail:
          `backlog of ${session.messages} messages (values ${session.valueBytes} bytes on average, ${KEYS} keys) ` +
          `on ${TOPICS.events.partitions} partitions; time from start to the group's last commit; ` +
          `${subject} ${drainDetail(server, session.messages)}; bare eachBatch ${drainDetail(bare, session.messages)}`,
      };
    };
    return {
      drain_rate_vs_bare_each_batch: sample(BATCH_HANDLER),
      drain_rate_per_message_handler_vs_bare_each_batch: sample(MESSAGE_HANDLER),
    };
  },
});
