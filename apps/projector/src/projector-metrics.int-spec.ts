import type { NestExpressApplication } from '@nestjs/platform-express';
import { Partitioners, type Producer } from 'kafkajs';
import { Client } from 'pg';
import request from 'supertest';
import { TOPICS, type ResourceStateMessage, type TopicNames } from '@asana-stream/contracts';
import { parseExposition, samplesOf, sumOf, type Exposition } from '@asana-stream/metrics';
import { createPipelineApp } from '@asana-stream/runtime';
import {
  createTestDatabase,
  createTestTopics,
  TEST_BROKERS,
  testKafka,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import { PROJECTOR_APP } from './projector.module';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const GIDS = ['1709876543210001', '1709876543210002', '1709876543210003'];
const TASK_NAME = 'Confidential merger checklist';

const live = (gid: string, version: number): ResourceStateMessage => ({
  gid,
  type: 'task',
  version,
  versionSource: 'modified_at',
  deleted: false,
  state: { gid, resource_type: 'task', name: `${TASK_NAME} ${gid}`, modified_at: new Date(version).toISOString() },
  fetchedAt: new Date(version + 5).toISOString(),
  causes: [`event-${gid}-${version}`],
});

describe("the projector's GET /metrics after state messages went through its consumer", () => {
  let db: TestDatabase;
  let names: TopicNames;
  let app: NestExpressApplication;
  let groupId: string;
  let producer: Producer;

  const scrape = async (): Promise<Exposition> => {
    const response = await request(app.getHttpServer()).get('/metrics');
    expect(response.status).toBe(200);
    return parseExposition(response.text);
  };

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    const created = await createPipelineApp(
      PROJECTOR_APP,
      { DATABASE_URL: db.url, KAFKA_BROKERS: TEST_BROKERS, KAFKA_TOPIC_PREFIX: names.prefix },
      { logger: false },
    );
    app = created.app;
    groupId = created.groupId!;
    await app.init();
    await app.startAllMicroservices();
    producer = testKafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await app?.close();
    await db?.drop();
  });

  it('counts outcomes, outbox rows, consumed and dead-lettered messages, the lag and readiness, labelled with no gid or name', async () => {
    const topic = names.physical(TOPICS.state.name);
    const dlq = names.physical(`${TOPICS.state.name}.dlq`);
    const message = (state: ResourceStateMessage) => ({ key: state.gid, value: JSON.stringify(state) });
    await producer.send({
      topic,
      messages: [
        ...GIDS.map((gid) => message(live(gid, T0 + 1000))),
        message(live(GIDS[0], T0 + 1000)), // the same version again: a duplicate
        message(live(GIDS[1], T0)), // older than what is stored: stale
        { key: GIDS[2], value: 'not json' }, // dead-lettered before any handler sees it
      ],
    });

    const after = await waitFor(
      'every message to be done or dead-lettered',
      async () => {
        const exposition = await scrape();
        const finished =
          sumOf(exposition, 'asana_stream_kafka_consumer_messages_total', { topic, outcome: 'done' }) === 5 &&
          sumOf(exposition, 'asana_stream_kafka_consumer_messages_total', { topic, outcome: 'dead_lettered' }) === 1 &&
          samplesOf(exposition, 'asana_stream_kafka_consumer_lag_messages', { topic }).every((s) => s.value === 0);
        return finished && exposition;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    const outcome = (name: string) => sumOf(after, 'asana_stream_projector_messages_total', { outcome: name });
    expect([outcome('applied'), outcome('duplicate'), outcome('stale'), outcome('rejected')]).toEqual([3, 1, 1, 0]);
    expect(sumOf(after, 'asana_stream_projector_outbox_rows_total')).toBe(3);
    expect(
      sumOf(after, 'asana_stream_projector_batch_apply_duration_seconds_count', { result: 'committed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sumOf(after, 'asana_stream_projector_batch_apply_duration_seconds_count', { result: 'failed' })).toBe(0);
    expect(sumOf(after, 'asana_stream_kafka_consumer_messages_total', { topic, outcome: 'retried' })).toBe(0);
    expect(sumOf(after, 'asana_stream_kafka_consumer_dead_letters_total', { topic, code: 'INVALID_MESSAGE' })).toBe(1);
    expect(sumOf(after, 'asana_stream_kafka_publish_messages_total', { topic: dlq, outcome: 'acked' })).toBe(1);
    expect(sumOf(after, 'asana_stream_kafka_consumer_batch_duration_seconds_count', { topic })).toBeGreaterThanOrEqual(
      1,
    );
    expect(
      sumOf(after, 'asana_stream_kafka_consumer_handler_duration_seconds_count', { topic }),
    ).toBeGreaterThanOrEqual(1);
    // The lag of every partition that had messages: all done.
    expect(samplesOf(after, 'asana_stream_kafka_consumer_lag_messages', { topic }).length).toBeGreaterThanOrEqual(1);
    expect(sumOf(after, 'asana_stream_kafka_consumer_ready', { group: groupId })).toBe(1);
    expect(sumOf(after, 'asana_stream_kafka_consumer_halted', { group: groupId })).toBe(0);
    expect(after.samples.filter((sample) => sample.labels.app !== 'projector')).toEqual([]);
    // The dead-letter topic's depth, as `asana-stream dlq list` counts it (read from the broker, cached 15 s).
    await waitFor(
      'the dead-letter depth to show the entry',
      async () =>
        sumOf(await scrape(), 'asana_stream_dead_letters_pending', { topic: `${TOPICS.state.name}.dlq` }) === 1,
      { timeoutMs: 40_000, intervalMs: 1000 },
    );

    const labelValues = after.samples.flatMap((sample) => Object.values(sample.labels));
    for (const forbidden of [...GIDS, TASK_NAME]) {
      expect(labelValues.filter((value) => value.includes(forbidden))).toEqual([]);
    }
  });

  it('shows the lag of a partition whose batch waits on a locked row, then 0 once it went through', async () => {
    const topic = names.physical(TOPICS.state.name);
    const gid = '1709876543219999';
    const done = (exposition: Exposition) =>
      sumOf(exposition, 'asana_stream_kafka_consumer_messages_total', { topic, outcome: 'done' });
    const doneBefore = done(await scrape());
    await producer.send({ topic, messages: [{ key: gid, value: JSON.stringify(live(gid, T0)) }] });
    await waitFor('the row to be projected', async () => done(await scrape()) === doneBefore + 1);

    // Another transaction holds the row: the projector's next batch for it waits on the lock.
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(/* sql */ `SELECT gid FROM tasks WHERE gid = $1 FOR UPDATE`, [gid]);
      const versions = Array.from({ length: 50 }, (_, n) => live(gid, T0 + 1 + n));
      await producer.send({ topic, messages: versions.map((state) => ({ key: gid, value: JSON.stringify(state) })) });

      const waiting = await waitFor('the waiting batch to show its lag', async () => {
        const exposition = await scrape();
        return samplesOf(exposition, 'asana_stream_kafka_consumer_lag_messages', { topic }).some((s) => s.value === 50)
          ? exposition
          : undefined;
      });
      expect(done(waiting)).toBe(doneBefore + 1);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }

    const after = await waitFor('the 50 messages to be done', async () => {
      const exposition = await scrape();
      return done(exposition) === doneBefore + 51 && exposition;
    });
    expect(samplesOf(after, 'asana_stream_kafka_consumer_lag_messages', { topic }).map((s) => s.value)).toEqual(
      samplesOf(after, 'asana_stream_kafka_consumer_lag_messages', { topic }).map(() => 0),
    );
  });
});
