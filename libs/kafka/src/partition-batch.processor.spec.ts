import type { EachBatchPayload, KafkaMessage, TopicMessages } from 'kafkajs';
import { AsanaStreamError } from '@asana-stream/errors';
import type { ConsumedMessage, ConsumedMessageContext } from './consumed-message';
import { ConsumerHealth } from './consumer-health';
import { DeadLetterPublisher } from './dead-letter.publisher';
import { OffsetCommitter } from './offset-committer';
import { PartitionBatchRun, type BatchProcessorDeps, type TopicBinding } from './partition-batch.processor';
import { RetryPolicy } from './retry-policy';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function record(offset: number, key: string, value: unknown): KafkaMessage {
  return {
    key: Buffer.from(key),
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
    offset: String(offset),
    timestamp: '0',
    attributes: 0,
  };
}

/** A partition batch as kafkajs hands it over, recording what the run does with it. */
function batchOf(messages: KafkaMessage[], heartbeat: () => Promise<void> = async () => undefined) {
  const resolved: string[] = [];
  const commits: string[] = [];
  const payload = {
    batch: { topic: 'p.asana.events', partition: 3, messages },
    resolveOffset: (offset: string) => resolved.push(offset),
    heartbeat,
    uncommittedOffsets: () => ({ topics: [] }),
    commitOffsetsIfNecessary: async () => {
      commits.push(resolved[resolved.length - 1] ?? 'none');
    },
  } as unknown as EachBatchPayload;
  return { payload, resolved, commits };
}

interface Setup {
  handler: (value: unknown, context: ConsumedMessageContext) => Promise<void>;
  batch?: boolean;
  publish?: (topicMessages: TopicMessages[]) => Promise<void>;
  deadLetters?: boolean;
  keyConcurrency?: number;
  maxBatchMessages?: number;
  random?: number;
  abortGraceMs?: number;
  commitIntervalMs?: number;
  decode?: TopicBinding['decode'];
}

function setup({
  handler,
  batch = false,
  publish,
  deadLetters = true,
  keyConcurrency = 4,
  maxBatchMessages = 100,
  random = 0,
  abortGraceMs = 200,
  commitIntervalMs = 5000,
  decode = (bytes) => JSON.parse(String(bytes)) as unknown,
}: Setup) {
  const controller = new AbortController();
  const health = new ConsumerHealth({ contactTimeoutMs: 10_000, haltLogIntervalMs: 60_000 }, quiet);
  health.setStatus('running');
  health.contact();
  const parked: TopicMessages[] = [];
  const binding: TopicBinding = {
    logical: 'asana.events',
    physical: 'p.asana.events',
    handler,
    batch,
    decode,
    deadLetterTopic: deadLetters ? 'p.asana.events.dlq' : null,
  };
  const lost: unknown[] = [];
  const deps: BatchProcessorDeps = {
    retry: new RetryPolicy({ haltDelayMs: 5, haltMaxDelayMs: 5, budgetMs: 10_000 }, () => random),
    deadLetters: deadLetters
      ? new DeadLetterPublisher({
          publish:
            publish ??
            (async (topicMessages) => {
              parked.push(...topicMessages);
            }),
        })
      : null,
    health,
    log: quiet,
    keyConcurrency,
    maxBatchMessages,
    heartbeatIntervalMs: 10,
    committer: new OffsetCommitter(quiet),
    commitIntervalMs,
    abortGraceMs,
    onPartitionsLost: (error) => {
      lost.push(error);
      controller.abort(error);
    },
  };
  const run = (payload: EachBatchPayload) => new PartitionBatchRun(payload, binding, deps, controller.signal).run();
  return { run, controller, health, parked, lost, committer: deps.committer };
}

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(condition()).toBe(true);
};

describe('PartitionBatchRun with a per-message handler', () => {
  it("keeps each key's messages in offset order while other keys go ahead, and resolves only the done prefix", async () => {
    const seen: string[] = [];
    const slowFirst = gate();
    const { run } = setup({
      handler: async (value, context) => {
        const { n } = value as { n: number };
        if (n === 0) await slowFirst.opened;
        seen.push(`${context.info.key}${n}`);
      },
    });
    const batch = batchOf([
      record(10, 'A', { n: 0 }),
      record(11, 'B', { n: 1 }),
      record(12, 'A', { n: 2 }),
      record(13, 'B', { n: 3 }),
    ]);
    const running = run(batch.payload);
    try {
      await until(() => seen.length === 2);
      // B went ahead of A's slow first message; A's second waits behind it; nothing is resolved
      // while offset 10 is not done, though 11 and 13 are.
      expect(seen).toEqual(['B1', 'B3']);
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(batch.resolved).toEqual([]);
    } finally {
      slowFirst.open();
      await running;
    }
    expect(seen).toEqual(['B1', 'B3', 'A0', 'A2']);
    expect(batch.resolved[batch.resolved.length - 1]).toBe('13');
    expect(batch.commits).toEqual(['13']);
  });

  it('commits the done prefix of a long batch every commitIntervalMs while a message holds the rest', async () => {
    const held = gate();
    const { run, committer } = setup({
      commitIntervalMs: 100,
      handler: async (value) => {
        if ((value as { n: number }).n === 1) await held.opened;
      },
    });
    const batch = batchOf([record(0, 'A', { n: 0 }), record(1, 'B', { n: 1 }), record(2, 'C', { n: 2 })]);
    // Another batch's commit just went out: the prefix this one resolves must still be committed
    // once the interval has passed, not only when the prefix moves again.
    void committer.commit(batchOf([]).payload);
    const running = run(batch.payload);
    try {
      await until(() => batch.commits.includes('0'));
      expect(batch.resolved).toEqual(['0']);
    } finally {
      held.open();
      await running;
    }
    expect(batch.commits[batch.commits.length - 1]).toBe('2');
  });

  it('gives the handler its topic, partition, offset, key, headers, attempt and signal', async () => {
    const infos: unknown[] = [];
    const { run, controller } = setup({ handler: async (_value, context) => void infos.push(context.info) });
    const message: KafkaMessage = {
      ...record(5, '1200', { n: 1 }),
      headers: { 'x-seen': Buffer.from('yes') },
    } as KafkaMessage;
    await run(batchOf([message]).payload);
    expect(infos).toEqual([
      expect.objectContaining({
        topic: 'asana.events',
        partition: 3,
        offset: '5',
        key: '1200',
        headers: { 'x-seen': 'yes' },
        attempt: 1,
        signal: controller.signal,
      }),
    ]);
  });

  it('dead-letters a message that does not decode at once, and its key moves on', async () => {
    const seen: number[] = [];
    const { run, parked } = setup({ handler: async (value) => void seen.push((value as { n: number }).n) });
    const batch = batchOf([record(0, 'A', { n: 0 }), record(1, 'A', '{oops'), record(2, 'A', { n: 2 })]);
    await run(batch.payload);
    expect(seen).toEqual([0, 2]);
    expect(parked).toEqual([
      {
        topic: 'p.asana.events.dlq',
        messages: [
          expect.objectContaining({
            headers: expect.objectContaining({
              'x-dlq-code': 'INVALID_MESSAGE',
              'x-dlq-source-offset': '1',
              'x-dlq-attempts': '1',
            }),
          }),
        ],
      },
    ]);
    expect(batch.resolved[batch.resolved.length - 1]).toBe('2');
  });

  it('retries a retriable failure and hands the attempt number to the handler, with nothing dead-lettered', async () => {
    const attempts: number[] = [];
    const { run, parked } = setup({
      handler: async (_value, context) => {
        attempts.push(context.info.attempt);
        if (context.info.attempt < 3) throw new AsanaStreamError('UNAVAILABLE', 'Asana answered 503');
      },
    });
    const batch = batchOf([record(0, 'A', {})]);
    await run(batch.payload);
    expect(attempts).toEqual([1, 2, 3]);
    expect(parked).toEqual([]);
    expect(batch.resolved).toEqual(['0']);
  });

  it('dead-letters at once what is the message’s fault, with the failure in its headers', async () => {
    const { run, parked } = setup({
      handler: async () => {
        throw new AsanaStreamError('REJECTED', 'Asana answered 400: the request is invalid');
      },
    });
    await run(batchOf([record(0, 'A', {})]).payload);
    expect(parked[0].messages[0].headers).toMatchObject({
      'x-dlq-code': 'REJECTED',
      'x-dlq-message': 'Asana answered 400: the request is invalid',
      'x-dlq-attempts': '1',
    });
  });

  it('dead-letters an unknown failure once its retries run out (dispositionAfterRetries)', async () => {
    let calls = 0;
    const { run, parked } = setup({
      handler: async () => {
        calls++;
        throw new TypeError('Cannot read properties of undefined');
      },
    });
    await run(batchOf([record(0, 'A', {})]).payload);
    expect(calls).toBe(10);
    expect(parked[0].messages[0].headers).toMatchObject({ 'x-dlq-code': 'UNKNOWN', 'x-dlq-attempts': '10' });
  });

  it('halts on a halt failure: unready, nothing resolved or dead-lettered, until a try succeeds', async () => {
    let authorized = false;
    const { run, health, parked } = setup({
      handler: async () => {
        if (!authorized) throw new AsanaStreamError('UNAUTHORIZED', 'Asana answered 401');
      },
    });
    const batch = batchOf([record(0, 'A', {}), record(1, 'B', {})]);
    const running = run(batch.payload);
    await until(() => health.readinessProblem() !== null);
    expect(health.readinessProblem()).toBe('the Kafka consumer is halted: UNAUTHORIZED: Asana answered 401');
    expect(batch.resolved).toEqual([]);
    authorized = true;
    await running;
    expect(health.readinessProblem()).toBeNull();
    expect(parked).toEqual([]);
    expect(batch.resolved[batch.resolved.length - 1]).toBe('1');
  });

  it('halts a dependency failure that outlasts its retries instead of dead-lettering it', async () => {
    const { run, health, controller, parked } = setup({
      handler: async () => {
        throw new AsanaStreamError('DATABASE_UNAVAILABLE', 'Connection terminated');
      },
    });
    const batch = batchOf([record(0, 'A', {})]);
    const running = run(batch.payload);
    await until(() => health.haltReasons.length > 0);
    controller.abort();
    await running;
    expect(parked).toEqual([]);
    expect(batch.resolved).toEqual([]);
    expect(health.haltReasons).toEqual([]);
  });

  it('holds a message whose dead-letter topic cannot be written, halted, until it can', async () => {
    let brokerUp = false;
    const { run, health, parked } = setup({
      handler: async () => {
        throw new AsanaStreamError('REJECTED', 'Asana answered 400');
      },
      publish: async (topicMessages) => {
        if (!brokerUp) throw new AsanaStreamError('KAFKA_UNAVAILABLE', 'Connection error');
        parked.push(...topicMessages);
      },
    });
    const batch = batchOf([record(0, 'A', {})]);
    const running = run(batch.payload);
    await until(() => health.haltReasons.length > 0);
    expect(batch.resolved).toEqual([]);
    brokerUp = true;
    await running;
    expect(parked).toHaveLength(1);
    expect(batch.resolved).toEqual(['0']);
    expect(health.readinessProblem()).toBeNull();
  });

  it('without a dead-letter publisher, halts a message it would dead-letter rather than lose it', async () => {
    const { run, health, controller } = setup({
      deadLetters: false,
      handler: async () => {
        throw new AsanaStreamError('REJECTED', 'Asana answered 400');
      },
    });
    const batch = batchOf([record(0, 'A', {})]);
    const running = run(batch.payload);
    await until(() => health.haltReasons.length > 0);
    controller.abort();
    await running;
    expect(batch.resolved).toEqual([]);
  });

  it('ends soon after its signal aborts, leaving what did not finish unresolved, and waits for the commit', async () => {
    const { run, controller } = setup({
      abortGraceMs: 10_000,
      handler: async (value, context) => {
        if ((value as { n: number }).n === 1) {
          await new Promise((resolve) => context.info.signal.addEventListener('abort', resolve));
          throw new AsanaStreamError('ABORTED', 'the consumer is closing');
        }
      },
    });
    const batch = batchOf([record(0, 'A', { n: 0 }), record(1, 'A', { n: 1 }), record(2, 'B', { n: 2 })]);
    const running = run(batch.payload);
    await new Promise((resolve) => setTimeout(resolve, 30));
    const started = Date.now();
    controller.abort();
    await running;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(batch.resolved[batch.resolved.length - 1]).toBe('0');
    expect(batch.commits).toEqual(['0']);
  });

  it('gives up on a handler that ignores the signal after the grace period', async () => {
    const { run, controller } = setup({ handler: () => new Promise<void>(() => undefined) });
    const batch = batchOf([record(0, 'A', {})]);
    const running = run(batch.payload);
    controller.abort();
    const started = Date.now();
    await running;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(batch.resolved).toEqual([]);
  });

  it('ends every batch and rethrows kafkajs’ error when a heartbeat says the partitions moved', async () => {
    const rebalancing = Object.assign(new Error('The group is rebalancing'), { type: 'REBALANCE_IN_PROGRESS' });
    const { run, lost } = setup({
      handler: (_value, context) =>
        new Promise<void>((resolve) => context.info.signal.addEventListener('abort', () => resolve())),
    });
    const batch = batchOf([record(0, 'A', {})], () => Promise.reject(rebalancing));
    await expect(run(batch.payload)).rejects.toBe(rebalancing);
    expect(lost).toEqual([rebalancing]);
  });
});

describe('PartitionBatchRun with a batch handler', () => {
  it('hands over the partition’s messages in offset order, at most maxBatchMessages at a time', async () => {
    const calls: string[][] = [];
    const { run } = setup({
      batch: true,
      maxBatchMessages: 2,
      handler: async (value) =>
        void calls.push((value as ConsumedMessage[]).map((m) => `${m.info.key}@${m.info.offset}`)),
    });
    const batch = batchOf([record(0, 'A', {}), record(1, 'B', {}), record(2, 'A', {})]);
    await run(batch.payload);
    expect(calls).toEqual([['A@0', 'B@1'], ['A@2']]);
    expect(batch.resolved[batch.resolved.length - 1]).toBe('2');
  });

  it('decodes a chunk at a time, just before its handler call, dead-lettering what does not decode', async () => {
    const seen: string[] = [];
    const { run, parked } = setup({
      batch: true,
      maxBatchMessages: 2,
      decode: (bytes) => {
        seen.push(`decode ${String(bytes)}`);
        return JSON.parse(String(bytes)) as unknown;
      },
      handler: async (value) =>
        void seen.push(`handle ${(value as ConsumedMessage[]).map((m) => m.info.offset).join(',')}`),
    });
    const batch = batchOf([0, 1, 2, 3, 4].map((n) => record(n, `K${n}`, n === 3 ? '{x' : String(n))));
    await run(batch.payload);
    expect(seen).toEqual(['decode 0', 'decode 1', 'handle 0,1', 'decode 2', 'decode {x', 'decode 4', 'handle 2,4']);
    expect(parked.map((t) => t.messages[0].headers?.['x-dlq-source-offset'])).toEqual(['3']);
    expect(batch.resolved[batch.resolved.length - 1]).toBe('4');
  });

  it('retries a batch whose failure is retriable whole', async () => {
    const calls: number[] = [];
    const { run } = setup({
      batch: true,
      handler: async (value) => {
        calls.push((value as ConsumedMessage[]).length);
        if (calls.length === 1) throw new AsanaStreamError('DATABASE_CONFLICT', 'deadlock detected');
      },
    });
    await run(batchOf([record(0, 'A', {}), record(1, 'B', {})]).payload);
    expect(calls).toEqual([2, 2]);
  });

  it('takes a batch apart when one message is at fault, so only that one is dead-lettered', async () => {
    const handled: string[] = [];
    const { run, parked } = setup({
      batch: true,
      handler: async (value) => {
        const messages = value as ConsumedMessage<{ bad?: boolean }>[];
        if (messages.some((m) => m.value.bad)) throw new AsanaStreamError('DATA_REJECTED', 'value too long');
        handled.push(...messages.map((m) => m.info.offset));
      },
    });
    const batch = batchOf([
      record(0, 'A', {}),
      record(1, 'B', { bad: true }),
      record(2, 'C', {}),
      record(3, 'D', '{x'),
    ]);
    await run(batch.payload);
    expect(handled).toEqual(['0', '2']);
    expect(parked.map((t) => t.messages[0].headers?.['x-dlq-source-offset'])).toEqual(['3', '1']);
    expect(batch.resolved[batch.resolved.length - 1]).toBe('3');
  });
});
