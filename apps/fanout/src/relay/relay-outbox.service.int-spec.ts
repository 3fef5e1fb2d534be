import { Logger } from '@nestjs/common';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { loadAppConfig, type FanoutConfig } from '@asana-stream/config';
import {
  allTopics,
  changeTopic,
  headerProblems,
  publishedContract,
  resourceChangeMessageContract,
  type ChangeAction,
  type ResourceChangeMessage,
  type TopicNames,
} from '@asana-stream/contracts';
import { createDataSource, OUTBOX_CHANNEL } from '@asana-stream/db';
import { ensureTopics, KafkaPublisher } from '@asana-stream/kafka';
import {
  createTestDatabase,
  createTestTopics,
  PrivateBroker,
  runCli,
  testKafka,
  totalEndOffset,
  TopicRecorder,
  waitFor,
  type ReceivedMessage,
  type TestDatabase,
} from '@asana-stream/testing';
import { PgNotifications } from '../notifications/pg-notifications';
import { OutboxRetentionService } from './outbox-retention.service';
import { RelayOutboxService } from './relay-outbox.service';

let nextGid = 1_300_000;
const freshGid = (): string => String(nextGid++);

/** What the projector writes to `outbox.change`: a change message without its id. */
function change(
  gid: string,
  type: string,
  action: ChangeAction,
  version: number,
): Omit<ResourceChangeMessage, 'changeId'> {
  return {
    schema: 1,
    gid,
    type,
    action,
    version,
    changes: action === 'updated' ? { name: { from: `v${version - 1}`, to: `v${version}` } } : {},
    state: action === 'deleted' ? null : { gid, resource_type: type, name: `v${version}` },
    causes: [`event-${gid}-${version}`],
    occurredAt: new Date(Date.UTC(2026, 10, 22, 10, 0, version)).toISOString(),
  };
}

/** Inserts one outbox row the way the projector does (one committed statement) and returns its id. */
async function insertOutbox(db: Client, gid: string, type: string, action: ChangeAction, version: number) {
  const { rows } = await db.query<{ id: string }>(
    /* sql */ `INSERT INTO outbox (gid, type, change) VALUES ($1, $2, $3) RETURNING id`,
    [gid, type, change(gid, type, action, version)],
  );
  return rows[0].id;
}

/** A publisher that holds every publish until released, so a relay batch can be caught mid-flight. */
function gatedPublisher(inner: KafkaPublisher) {
  let release!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  const publisher = {
    publish: async (...args: Parameters<KafkaPublisher['publish']>) => {
      entered();
      await gate;
      return inner.publish(...args);
    },
  } as unknown as KafkaPublisher;
  return { publisher, reached, release };
}

/** A publisher that records every publish call before passing it on. */
function countingPublisher(inner: KafkaPublisher) {
  const calls: Parameters<KafkaPublisher['publish']>[0][] = [];
  const publisher = {
    publish: (topicMessages: Parameters<KafkaPublisher['publish']>[0]) => {
      calls.push(topicMessages);
      return inner.publish(topicMessages);
    },
  } as unknown as KafkaPublisher;
  return { publisher, calls };
}

/** The first `count` change messages of a topic, in offset order per partition. */
async function readAll(kafka: Kafka, topic: string, count: number) {
  const consumer = kafka.consumer({ groupId: `relay-int-read-${Date.now()}` });
  const seen: { key: string | null; changeId: string; partition: number; offset: number }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const value = JSON.parse(message.value!.toString()) as ResourceChangeMessage;
        seen.push({
          key: message.key?.toString() ?? null,
          changeId: value.changeId,
          partition,
          offset: Number(message.offset),
        });
      },
    });
    await waitFor(`${count} messages on ${topic}`, () => seen.length >= count, { timeoutMs: 30_000 });
  } finally {
    await consumer.disconnect();
  }
  return seen.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

describe('RelayOutboxService on a real database and broker', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let config: FanoutConfig;
  /** Two replicas of the fanout app: each has its own pool. */
  let dataSourceA: DataSource;
  let dataSourceB: DataSource;
  let publisher: KafkaPublisher;
  let notifications: PgNotifications;
  let relayA: RelayOutboxService;
  let relayB: RelayOutboxService;
  let recorder: TopicRecorder;
  let sql: Client;
  let taskTopic: string;
  let projectTopic: string;

  const byChangeId = (ids: string[]): ReceivedMessage[] =>
    recorder.messages.filter((m) => ids.includes((m.value as ResourceChangeMessage).changeId));
  const published = async (ids: string[]): Promise<boolean> => {
    const { rows } = await sql.query<{ n: number }>(
      /* sql */ `SELECT count(*)::int AS n FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NOT NULL`,
      [ids],
    );
    return rows[0].n === ids.length;
  };
  const publishedCount = async (ids: string[]): Promise<number> => {
    const { rows } = await sql.query<{ n: number }>(
      /* sql */ `SELECT count(*)::int AS n FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NOT NULL`,
      [ids],
    );
    return rows[0].n;
  };
  const rowOf = async (id: string) => {
    const { rows } = await sql.query<{
      published: boolean;
      parked: boolean;
      attempts: number;
      last_error: string | null;
    }>(
      /* sql */ `SELECT published_at IS NOT NULL AS published, parked_at IS NOT NULL AS parked, attempts, last_error
                 FROM outbox WHERE id = $1`,
      [id],
    );
    return rows[0];
  };
  /** The change ids of `gid` among `ids` as they are on the topic, in offset order. */
  const changeIdsOnTopic = (ids: string[], gid: string): string[] =>
    byChangeId(ids)
      .filter((m) => m.key === gid)
      .sort((a, b) => Number(a.offset) - Number(b.offset))
      .map((m) => (m.value as ResourceChangeMessage).changeId);
  /** A row larger than Kafka accepts (the publisher's 1,000,000 bytes, the broker's 1 MB). */
  const insertOversized = async (gid: string): Promise<string> => {
    const { rows } = await sql.query<{ id: string }>(
      /* sql */ `INSERT INTO outbox (gid, type, change) VALUES ($1, 'task', $2) RETURNING id`,
      [gid, { ...change(gid, 'task', 'created', 1), state: { gid, notes: 'x'.repeat(1_200_000) } }],
    );
    return rows[0].id;
  };
  const cli = (...args: string[]) => runCli({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix }, args);
  const drain = async (relay: RelayOutboxService, limit: number): Promise<number> => {
    let total = 0;
    for (let relayed = await relay.relayBatch(limit); relayed > 0; relayed = await relay.relayBatch(limit)) {
      total += relayed;
    }
    return total;
  };

  beforeAll(async () => {
    Logger.overrideLogger(['error', 'warn']);
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    config = loadAppConfig('fanout', {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: names.prefix,
      FANOUT_POLL_INTERVAL_MS: '60000',
    });
    taskTopic = names.physical(changeTopic('task').name);
    projectTopic = names.physical(changeTopic('project').name);
    dataSourceA = createDataSource(db.url, 4);
    dataSourceB = createDataSource(db.url, 4);
    await Promise.all([dataSourceA.initialize(), dataSourceB.initialize()]);
    publisher = new KafkaPublisher(testKafka('relay-int'));
    await publisher.onModuleInit();
    notifications = new PgNotifications(db.url);
    relayA = new RelayOutboxService(dataSourceA, publisher, names, config, notifications);
    relayB = new RelayOutboxService(dataSourceB, publisher, names, config, notifications);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    recorder = await new TopicRecorder([taskTopic, projectTopic]).start();
  });

  afterAll(async () => {
    await recorder?.stop();
    await sql?.end();
    await notifications?.stop();
    await publisher?.onApplicationShutdown();
    await dataSourceA?.destroy();
    await dataSourceB?.destroy();
    await db?.drop();
  });

  it('publishes each row to its type’s change topic keyed by gid, in outbox order per gid, and marks it published', async () => {
    const [taskA, taskB, project] = [freshGid(), freshGid(), freshGid()];
    const ids = [
      await insertOutbox(sql, taskA, 'task', 'created', 1),
      await insertOutbox(sql, taskB, 'task', 'created', 1),
      await insertOutbox(sql, project, 'project', 'created', 1),
      await insertOutbox(sql, taskA, 'task', 'updated', 2),
      await insertOutbox(sql, taskB, 'task', 'deleted', 2),
      await insertOutbox(sql, project, 'project', 'updated', 2),
      await insertOutbox(sql, taskA, 'task', 'updated', 3),
    ];

    // Small batches: order must hold across batch boundaries too.
    expect(await drain(relayA, 3)).toBe(ids.length);

    expect(await published(ids)).toBe(true);
    await waitFor('every row on the change topics', () => byChangeId(ids).length >= ids.length);
    const messages = byChangeId(ids);
    expect(messages).toHaveLength(ids.length);
    for (const message of messages) {
      const value = message.value as ResourceChangeMessage;
      expect(message.key).toBe(value.gid);
      expect(message.topic).toBe(value.type === 'project' ? projectTopic : taskTopic);
      // What downstream reads meets the published contract (resource-change.v1.json), headers too.
      expect(resourceChangeMessageContract.problems(value)).toEqual([]);
      expect(headerProblems(publishedContract('resource-change'), message.headers)).toEqual([]);
    }
    const changeIdsOf = (gid: string) =>
      messages
        .filter((m) => m.key === gid)
        .sort((a, b) => Number(a.offset) - Number(b.offset))
        .map((m) => (m.value as ResourceChangeMessage).changeId);
    expect(changeIdsOf(taskA)).toEqual([ids[0], ids[3], ids[6]]);
    expect(changeIdsOf(taskB)).toEqual([ids[1], ids[4]]);
    expect(changeIdsOf(project)).toEqual([ids[2], ids[5]]);
    const first = messages.find((m) => (m.value as ResourceChangeMessage).changeId === ids[0])!;
    expect(first.value).toEqual({ ...change(taskA, 'task', 'created', 1), changeId: ids[0] });
    expect(await relayA.relayBatch(10)).toBe(0);
  });

  it('publishes a row whose transaction commits after a row with a higher id was already published', async () => {
    const [late, early] = [freshGid(), freshGid()];
    const slow = new Client({ connectionString: db.url });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      const lowId = await insertOutbox(slow, late, 'task', 'created', 1);
      const highId = await insertOutbox(sql, early, 'task', 'created', 1);
      expect(BigInt(lowId)).toBeLessThan(BigInt(highId));

      expect(await relayA.relayBatch(10)).toBe(1);
      expect(await published([highId])).toBe(true);
      await slow.query('COMMIT');
      expect(await relayA.relayBatch(10)).toBe(1);

      expect(await published([lowId])).toBe(true);
      await waitFor('both rows on the task topic', () => byChangeId([lowId, highId]).length >= 2);
      expect(byChangeId([lowId, highId]).map((m) => m.key)).toEqual(expect.arrayContaining([late, early]));
    } finally {
      await slow.end();
    }
  });

  it('publishes many gids’ rows with one publish call per claimed batch, in order per gid', async () => {
    const gids = Array.from({ length: 40 }, freshGid);
    const ids: string[] = [];
    for (let version = 1; version <= 5; version++) {
      for (const gid of gids)
        ids.push(await insertOutbox(sql, gid, 'task', version === 1 ? 'created' : 'updated', version));
    }
    const counting = countingPublisher(publisher);
    const relay = new RelayOutboxService(dataSourceA, counting.publisher, names, config, notifications);

    expect(await drain(relay, 100)).toBe(ids.length);

    // One publish per claimed batch, each carrying the whole batch.
    expect(counting.calls.map((call) => call.flatMap((t) => t.messages).length)).toEqual([100, 100]);
    expect(await published(ids)).toBe(true);
    await waitFor('every row on the task topic', () => byChangeId(ids).length >= ids.length);
    expect(byChangeId(ids)).toHaveLength(ids.length);
    for (const gid of gids)
      expect(changeIdsOnTopic(ids, gid)).toEqual(ids.filter((_, i) => gids[i % gids.length] === gid));
  });

  it('lets a second replica relay other gids while the first holds a gid, never that gid’s later rows', async () => {
    const [held, other] = [freshGid(), freshGid()];
    const heldIds = [
      await insertOutbox(sql, held, 'task', 'created', 1),
      await insertOutbox(sql, held, 'task', 'updated', 2),
      await insertOutbox(sql, held, 'task', 'updated', 3),
    ];
    const otherId = await insertOutbox(sql, other, 'task', 'created', 1);
    const gated = gatedPublisher(publisher);
    const holding = new RelayOutboxService(dataSourceA, gated.publisher, names, config, notifications);

    const firstBatch = holding.relayBatch(1);
    await gated.reached;
    // Plain SKIP LOCKED would hand this replica the held gid's rows 2 and 3, which could then
    // reach Kafka before row 1: the gid's lock keeps them back, the other gid goes on.
    await expect(relayB.relayBatch(10)).resolves.toBe(1);
    expect(await published([otherId])).toBe(true);
    expect(await publishedCount(heldIds)).toBe(0);
    gated.release();
    await expect(firstBatch).resolves.toBe(1);
    await expect(relayB.relayBatch(10)).resolves.toBe(2);

    await waitFor('the held gid’s rows on the task topic', () => byChangeId(heldIds).length >= 3);
    expect(changeIdsOnTopic(heldIds, held)).toEqual(heldIds);
  });

  it('never publishes a row twice when two replicas relay concurrently', async () => {
    const gids = [freshGid(), freshGid(), freshGid(), freshGid()];
    const ids: string[] = [];
    for (let version = 1; version <= 10; version++) {
      for (const gid of gids)
        ids.push(await insertOutbox(sql, gid, 'task', version === 1 ? 'created' : 'updated', version));
    }
    const before = await totalEndOffset(testKafka(), [taskTopic, projectTopic]);

    const relayedBy = { a: 0, b: 0 };
    for (let round = 0; round < 100 && !(await published(ids)); round++) {
      const [a, b] = await Promise.all([relayA.relayBatch(3), relayB.relayBatch(3)]);
      relayedBy.a += a;
      relayedBy.b += b;
    }

    expect(relayedBy.a + relayedBy.b).toBe(ids.length);
    expect(await totalEndOffset(testKafka(), [taskTopic, projectTopic])).toBe(before + ids.length);
    await waitFor('every row on the task topic', () => byChangeId(ids).length >= ids.length);
    const seen = byChangeId(ids).map((m) => (m.value as ResourceChangeMessage).changeId);
    expect(new Set(seen).size).toBe(ids.length);
    for (const gid of gids) expect(changeIdsOnTopic(ids, gid)).toEqual(ids.filter((_, i) => gids[i % 4] === gid));
  });

  it('keeps per-gid order and publishes each row once with two relays running while rows arrive', async () => {
    const busy = loadAppConfig('fanout', {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: names.prefix,
      FANOUT_POLL_INTERVAL_MS: '50',
      FANOUT_BATCH_SIZE: '7',
    });
    const relays = [
      new RelayOutboxService(dataSourceA, publisher, names, busy, notifications),
      new RelayOutboxService(dataSourceB, publisher, names, busy, notifications),
    ];
    const rounds = relays.map((relay) => jest.spyOn(relay, 'relayRound'));
    const before = await totalEndOffset(testKafka(), [taskTopic]);
    await Promise.all(relays.map((relay) => relay.onApplicationBootstrap()));
    const gids = Array.from({ length: 20 }, freshGid);
    const ids: string[] = [];
    try {
      for (let version = 1; version <= 15; version++) {
        for (const gid of gids) {
          ids.push(await insertOutbox(sql, gid, 'task', version === 1 ? 'created' : 'updated', version));
          await sql.query(/* sql */ `SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
        }
      }
      await waitFor('every row published', () => published(ids), { timeoutMs: 30_000 });
    } finally {
      await Promise.all(relays.map((relay) => relay.onModuleDestroy()));
    }
    const relayedBy = await Promise.all(
      rounds.map(async (spy) => {
        const results = await Promise.all(spy.mock.results.map((r) => r.value as Promise<{ published: number }>));
        return results.reduce((sum, r) => sum + r.published, 0);
      }),
    );
    expect(relayedBy[0] + relayedBy[1]).toBe(ids.length);
    expect(await totalEndOffset(testKafka(), [taskTopic])).toBe(before + ids.length);
    await waitFor('every row on the task topic', () => byChangeId(ids).length >= ids.length);
    for (const gid of gids) expect(changeIdsOnTopic(ids, gid)).toEqual(ids.filter((_, i) => gids[i % 20] === gid));
  });

  it('parks a row Kafka refuses, holds back only its gid, and goes on with the gid once it is discarded', async () => {
    const [refused, otherA, otherB] = [freshGid(), freshGid(), freshGid()];
    const refusedId = await insertOversized(refused);
    const laterId = await insertOutbox(sql, refused, 'task', 'updated', 2);
    const others = [
      await insertOutbox(sql, otherA, 'task', 'created', 1),
      await insertOutbox(sql, otherB, 'project', 'created', 1),
      await insertOutbox(sql, otherA, 'task', 'updated', 2),
    ];
    const before = await totalEndOffset(testKafka(), [taskTopic, projectTopic]);

    // The other gids are published in the same batch; the refused row is parked, its gid waits.
    expect(await relayA.relayBatch(10)).toBe(3);
    expect(await published(others)).toBe(true);
    expect(await rowOf(refusedId)).toMatchObject({
      published: false,
      parked: true,
      attempts: 1,
      last_error: expect.stringMatching(/^MESSAGE_TOO_LARGE: /),
    });
    expect(await rowOf(laterId)).toMatchObject({ published: false, parked: false, attempts: 0 });
    expect(await relayA.relayBatch(10)).toBe(0);
    const otherOn = await insertOutbox(sql, otherB, 'project', 'updated', 2);
    expect(await relayB.relayBatch(10)).toBe(1);
    expect(await published([otherOn])).toBe(true);
    expect(await totalEndOffset(testKafka(), [taskTopic, projectTopic])).toBe(before + 4);

    // What the operator sees.
    const status = JSON.parse((await cli('status', '--json')).stdout) as { outbox: { parked: number } };
    expect(status.outbox.parked).toBe(1);
    const listed = await cli('outbox', 'parked', '--json');
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(listed.stdout)).toEqual({
      parked: 1,
      rows: [
        {
          id: refusedId,
          gid: refused,
          type: 'task',
          attempts: 1,
          parkedAt: expect.any(String),
          lastError: expect.stringMatching(/^MESSAGE_TOO_LARGE/),
          bytes: expect.any(Number),
          waiting: 1,
        },
      ],
    });
    expect((await cli('outbox', 'parked')).stdout).toMatch(
      new RegExp(`1 parked[\\s\\S]*${refusedId}\\s+${refused}\\s+task\\s+1`),
    );

    // Discarding needs a confirmation; then the gid goes on with its next row.
    expect(await cli('outbox', 'discard', refusedId)).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/--yes/),
    });
    expect(await cli('outbox', 'discard', laterId, '--yes')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(new RegExp(`not a parked outbox row: ${laterId}`)),
    });
    expect(await cli('outbox', 'discard', refusedId, '--yes')).toMatchObject({
      code: 0,
      stdout: 'discarded: 1; their gids go on with their next rows\n',
    });
    expect(await relayA.relayBatch(10)).toBe(1);
    expect(await published([laterId])).toBe(true);
    await waitFor('the refused gid’s next row on the task topic', () => byChangeId([laterId]).length === 1);
    expect(byChangeId([refusedId])).toEqual([]);
    expect(JSON.parse((await cli('outbox', 'parked', '--json')).stdout)).toEqual({ parked: 0, rows: [] });
  });

  it('publishes a re-driven row, then the rows of its gid behind it, in order', async () => {
    const gid = freshGid();
    const parkedId = await insertOversized(gid);
    const laterIds = [
      await insertOutbox(sql, gid, 'task', 'updated', 2),
      await insertOutbox(sql, gid, 'task', 'updated', 3),
    ];
    await expect(relayA.relayBatch(10)).resolves.toBe(0);
    expect(await rowOf(parkedId)).toMatchObject({ parked: true, attempts: 1 });
    await expect(relayA.relayBatch(10)).resolves.toBe(0);

    // The operator removes the cause (here: the row now fits, as a raised limit would make it) and re-drives.
    await sql.query(/* sql */ `UPDATE outbox SET change = $2 WHERE id = $1`, [
      parkedId,
      change(gid, 'task', 'created', 1),
    ]);
    expect(await cli('outbox', 'redrive')).toMatchObject({ code: 1, stderr: expect.stringMatching(/--all/) });
    expect(await cli('outbox', 'redrive', parkedId)).toMatchObject({
      code: 0,
      stdout: 're-driven: 1; the fanout relays them next\n',
    });
    expect(await rowOf(parkedId)).toMatchObject({ parked: false, attempts: 0, published: false });

    expect(await drain(relayA, 10)).toBe(3);
    const ids = [parkedId, ...laterIds];
    await waitFor('the gid’s three rows on the task topic', () => byChangeId(ids).length >= 3);
    expect(changeIdsOnTopic(ids, gid)).toEqual(ids);
  });

  it('deletes published rows older than the retention, in bounded chunks, and nothing else', async () => {
    const gid = freshGid();
    const at = (days: number | null) => (days === null ? null : new Date(Date.now() - days * 86_400_000));
    const insertAged = async (publishedDaysAgo: number | null, parked = false) => {
      const { rows } = await sql.query<{ id: string }>(
        /* sql */ `INSERT INTO outbox (gid, type, change, created_at, published_at, parked_at)
                   VALUES ($1, 'task', $2, now() - interval '30 days', $3, $4) RETURNING id`,
        [gid, change(gid, 'task', 'updated', 1), at(publishedDaysAgo), parked ? at(20) : null],
      );
      return rows[0].id;
    };
    const expired = [await insertAged(8), await insertAged(10), await insertAged(29), await insertAged(8, true)];
    const expiredToo = [await insertAged(7.5), await insertAged(9)];
    const kept = [await insertAged(6.9), await insertAged(0)];
    const parkedOld = await insertAged(null, true);
    const retention = new OutboxRetentionService(dataSourceA, config);
    expect(config.fanout.FANOUT_RETENTION_HOURS).toBe(168);

    // At most chunks × rows per run; the next run goes on.
    expect(await retention.deleteExpired({ chunkRows: 2, maxChunks: 2 })).toBe(4);
    expect(await retention.deleteExpired({ chunkRows: 2 })).toBe(2);
    expect(await retention.deleteExpired()).toBe(0);
    const { rows } = await sql.query<{ id: string }>(/* sql */ `SELECT id FROM outbox WHERE gid = $1 ORDER BY id`, [
      gid,
    ]);
    expect(rows.map((r) => r.id)).toEqual([...kept, parkedOld]);
    expect(expired.length + expiredToo.length).toBe(6);
    await sql.query(/* sql */ `DELETE FROM outbox WHERE gid = $1`, [gid]);
  });

  it('marks nothing published while Kafka is down, and relays every row in order once it is back', async () => {
    const broker = new PrivateBroker();
    await broker.prepare();
    await broker.script('start');
    const kafka = new Kafka({
      clientId: 'relay-int-outage',
      brokers: [broker.brokers],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 3000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const own = new KafkaPublisher(kafka);
    try {
      await ensureTopics(kafka, allTopics(), names);
      await own.onModuleInit();
      const relay = new RelayOutboxService(dataSourceA, own, names, config, notifications);
      const gid = freshGid();
      const ids = [await insertOutbox(sql, gid, 'task', 'created', 1)];
      expect(await relay.relayBatch(10)).toBe(1);

      await broker.script('stop');
      ids.push(await insertOutbox(sql, gid, 'task', 'updated', 2), await insertOutbox(sql, gid, 'task', 'updated', 3));
      await expect(relay.relayBatch(10)).rejects.toMatchObject({ disposition: 'retry' });
      expect(await publishedCount(ids.slice(1))).toBe(0);
      expect(await rowOf(ids[1])).toMatchObject({ parked: false, attempts: 0 });

      await broker.script('start');
      await waitFor(
        'the relay publishing again',
        async () => (await relay.relayBatch(10).catch(() => 0)) > 0 || (await published(ids)),
        { timeoutMs: 60_000 },
      );
      expect(await published(ids)).toBe(true);
      const onBroker = await readAll(kafka, taskTopic, ids.length);
      expect(onBroker.filter((m) => m.key === gid).map((m) => m.changeId)).toEqual(ids);
    } finally {
      await own.onApplicationShutdown().catch(() => undefined);
      await broker.script('stop');
      broker.remove();
    }
  }, 180_000);

  it('wakes on NOTIFY long before its poll interval, and stops cleanly', async () => {
    // A listener of its own, as the fanout's module has: the relay stops without it, the module closes it.
    const listener = new PgNotifications(db.url);
    const relay = new RelayOutboxService(dataSourceA, publisher, names, config, listener);
    const batches = jest.spyOn(relay, 'relayRound');
    await relay.onApplicationBootstrap();
    let stopped = false;
    try {
      await waitFor('the first, empty batch', () => batches.mock.results.length > 0, { timeoutMs: 5000 });
      await expect(batches.mock.results[0].value).resolves.toMatchObject({ claimed: 0 });
      expect(config.fanout.FANOUT_POLL_INTERVAL_MS).toBe(60_000);

      // The projector's pattern: the row and its NOTIFY in one transaction.
      const gid = freshGid();
      await sql.query('BEGIN');
      const id = await insertOutbox(sql, gid, 'task', 'created', 1);
      await sql.query(/* sql */ `SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
      await sql.query('COMMIT');

      await waitFor('the row relayed after NOTIFY', () => published([id]), { timeoutMs: 5000 });
      await waitFor('the change on the task topic', () => byChangeId([id]).length === 1, { timeoutMs: 20_000 });
      await expect(relay.problem()).resolves.toBeNull();

      // The relay's own stop ends its wait (the poll interval is a minute), the listener still open.
      const stopStarted = Date.now();
      await relay.onModuleDestroy();
      stopped = true;
      expect(Date.now() - stopStarted).toBeLessThan(5000);
      await expect(relay.problem()).resolves.toBe('the relay is not running');
      expect(listener.listensTo(OUTBOX_CHANNEL)).toBe(true);
      const listening = async (): Promise<number> =>
        (
          await sql.query<{ n: number }>(/* sql */ `SELECT count(*)::int AS n FROM pg_stat_activity
                       WHERE datname = current_database() AND query ILIKE 'LISTEN%'`)
        ).rows[0].n;
      const before = await listening();
      await listener.onModuleDestroy();
      await waitFor('its listener connection closed', async () => (await listening()) === before - 1, {
        timeoutMs: 2000,
      });
    } finally {
      if (!stopped) await relay.onModuleDestroy();
      await listener.stop();
    }
  });
});
