import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { loadAppConfig, type FanoutConfig } from '@asana-stream/config';
import { changeTopic, type ChangeAction, type ResourceChangeMessage, type TopicNames } from '@asana-stream/contracts';
import { createDataSource, OUTBOX_CHANNEL } from '@asana-stream/db';
import { jsonMessage, KafkaPublisher } from '@asana-stream/kafka';
import {
  createTestDatabase,
  createTestTopics,
  testKafka,
  totalEndOffset,
  TopicRecorder,
  waitFor,
  type ReceivedMessage,
  type TestDatabase,
} from '@asana-stream/testing';
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

describe('RelayOutboxService on a real database and broker', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let config: FanoutConfig;
  /** Two replicas of the fanout app: each has its own pool. */
  let dataSourceA: DataSource;
  let dataSourceB: DataSource;
  let publisher: KafkaPublisher;
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
    relayA = new RelayOutboxService(dataSourceA, publisher, names, config);
    relayB = new RelayOutboxService(dataSourceB, publisher, names, config);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    recorder = await new TopicRecorder([taskTopic, projectTopic]).start();
  });

  afterAll(async () => {
    await recorder?.stop();
    await sql?.end();
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

  it('lets only one relay publish at a time: a second replica relays nothing while the first holds a batch', async () => {
    const gid = freshGid();
    const ids = [
      await insertOutbox(sql, gid, 'task', 'created', 1),
      await insertOutbox(sql, gid, 'task', 'updated', 2),
      await insertOutbox(sql, gid, 'task', 'updated', 3),
    ];
    const gated = gatedPublisher(publisher);
    const holding = new RelayOutboxService(dataSourceA, gated.publisher, names, config);

    const firstBatch = holding.relayBatch(1);
    await gated.reached;
    // Without the relay lock, SKIP LOCKED would hand this replica the two later rows of the gid
    // and they could reach Kafka before the first.
    await expect(relayB.relayBatch(10)).resolves.toBe(0);
    gated.release();
    await expect(firstBatch).resolves.toBe(1);
    await expect(relayB.relayBatch(10)).resolves.toBe(2);

    await waitFor('the three rows on the task topic', () => byChangeId(ids).length >= 3);
    const order = byChangeId(ids)
      .sort((a, b) => Number(a.offset) - Number(b.offset))
      .map((m) => (m.value as ResourceChangeMessage).changeId);
    expect(order).toEqual(ids);
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
    for (const gid of gids) {
      const order = byChangeId(ids)
        .filter((m) => m.key === gid)
        .sort((a, b) => Number(a.offset) - Number(b.offset))
        .map((m) => Number((m.value as ResourceChangeMessage).changeId));
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
  });

  it('publishes nothing of a gid after a row Kafka refused, so the retry cannot reorder the gid', async () => {
    const gid = freshGid();
    // Larger than the broker's message.max.bytes (1 MB by default): Kafka rejects it at once.
    const { rows } = await sql.query<{ id: string }>(
      /* sql */ `INSERT INTO outbox (gid, type, change) VALUES ($1, 'task', $2) RETURNING id`,
      [gid, { ...change(gid, 'task', 'created', 1), state: { gid, notes: 'x'.repeat(1_200_000) } }],
    );
    const refusedId = rows[0].id;
    const laterId = await insertOutbox(sql, gid, 'task', 'updated', 2);
    // A publisher of its own: the refused send stays out of the shared producer.
    const ownPublisher = new KafkaPublisher(testKafka('relay-int-refused'));
    await ownPublisher.onModuleInit();
    try {
      const before = await totalEndOffset(testKafka(), [taskTopic]);

      await expect(new RelayOutboxService(dataSourceA, ownPublisher, names, config).relayBatch(10)).rejects.toThrow();
      // The publisher sends in order: once this marker is acknowledged, anything queued before it was sent.
      const other = names.physical(changeTopic('other').name);
      await ownPublisher.publish([{ topic: other, messages: [jsonMessage(gid, { marker: true })] }]);

      expect(await totalEndOffset(testKafka(), [taskTopic])).toBe(before);
      const { rows: unpublished } = await sql.query<{ id: string }>(
        /* sql */ `SELECT id FROM outbox WHERE gid = $1 AND published_at IS NULL ORDER BY id`,
        [gid],
      );
      expect(unpublished.map((r) => r.id)).toEqual([refusedId, laterId]);
    } finally {
      await ownPublisher.onApplicationShutdown();
      // The refused row would block every later batch of this file.
      await sql.query(/* sql */ `DELETE FROM outbox WHERE id = $1`, [refusedId]);
      await drain(relayA, 10);
    }
  });

  it('wakes on NOTIFY long before its poll interval, and stops cleanly', async () => {
    const relay = new RelayOutboxService(dataSourceA, publisher, names, config);
    const batches = jest.spyOn(relay, 'relayBatch');
    await relay.onApplicationBootstrap();
    let stopped = false;
    try {
      await waitFor('the first, empty batch', () => batches.mock.results.length > 0, { timeoutMs: 5000 });
      await expect(batches.mock.results[0].value).resolves.toBe(0);
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

      const stopStarted = Date.now();
      await relay.onModuleDestroy();
      stopped = true;
      expect(Date.now() - stopStarted).toBeLessThan(5000);
      await expect(relay.problem()).resolves.toBe('the relay is not running');
      await waitFor(
        'no connection LISTENing any more',
        async () => {
          const { rows } = await sql.query<{ n: number }>(/* sql */ `SELECT count(*)::int AS n FROM pg_stat_activity
                       WHERE datname = current_database() AND query ILIKE 'LISTEN%'`);
          return rows[0].n === 0;
        },
        { timeoutMs: 2000 },
      );
    } finally {
      if (!stopped) await relay.onModuleDestroy();
    }
  });
});
