import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import request from 'supertest';
import { changeTopic, type TopicNames } from '@asana-stream/contracts';
import { parseExposition, sumOf, type Exposition } from '@asana-stream/metrics';
import { createPipelineApp } from '@asana-stream/runtime';
import { createTestDatabase, createTestTopics, TEST_BROKERS, waitFor, type TestDatabase } from '@asana-stream/testing';
import { FANOUT_APP } from './fanout.module';

const GIDS = ['1705555555550001', '1705555555550002', '1705555555550003'];
const TASK_NAME = 'Board meeting: acquisition of Initech';

/**
 * An outbox row as the projector writes it (a `created` change of a task), and its id; `eventAgeSeconds`:
 * how long ago Asana created the event it answers (none: a row without an event time).
 */
async function insertOutbox(sql: Client, gid: string, name: string, eventAgeSeconds?: number): Promise<string> {
  const change = {
    schema: 1,
    gid,
    type: 'task',
    action: 'created',
    version: 1,
    changes: { name: { from: null, to: name } },
    state: { gid, resource_type: 'task', name },
    causes: [`event-${gid}`],
    occurredAt: new Date().toISOString(),
  };
  const { rows } = await sql.query<{ id: string }>(
    /* sql */ `INSERT INTO outbox (gid, type, change, event_at)
               VALUES ($1, 'task', $2, now() - make_interval(secs => $3::float8)) RETURNING id`,
    [gid, change, eventAgeSeconds ?? null],
  );
  return rows[0].id;
}

describe("fanout's GET /metrics while its relay publishes the outbox", () => {
  let db: TestDatabase;
  let names: TopicNames;
  let app: NestExpressApplication;
  let sql: Client;

  const scrape = async (): Promise<Exposition> => {
    const response = await request(app.getHttpServer()).get('/metrics');
    expect(response.status).toBe(200);
    return parseExposition(response.text);
  };

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    const created = await createPipelineApp(
      FANOUT_APP,
      {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: names.prefix,
        FANOUT_POLL_INTERVAL_MS: '100',
      },
      { logger: false },
    );
    app = created.app;
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await sql?.end();
    await db?.drop();
  });

  it('counts published rows and their freshness, gauges an empty backlog, and labels no gid or name', async () => {
    // Asana created the events of the first two 90 s ago; the third row has no event time.
    for (const [index, gid] of GIDS.entries()) await insertOutbox(sql, gid, `${TASK_NAME} ${gid}`, [90, 90][index]);

    const after = await waitFor('the rows to be published and the backlog read as empty', async () => {
      const exposition = await scrape();
      return sumOf(exposition, 'asana_stream_fanout_rows_total', { outcome: 'published' }) === 3 &&
        sumOf(exposition, 'asana_stream_fanout_unpublished_rows') === 0
        ? exposition
        : undefined;
    });

    expect(sumOf(after, 'asana_stream_fanout_freshness_seconds_count')).toBe(3);
    const freshness = sumOf(after, 'asana_stream_fanout_freshness_seconds_sum') / 3;
    expect(freshness).toBeGreaterThan(0);
    expect(freshness).toBeLessThan(30);
    expect(sumOf(after, 'asana_stream_end_to_end_freshness_seconds_count')).toBe(2);
    const endToEnd = sumOf(after, 'asana_stream_end_to_end_freshness_seconds_sum') / 2;
    expect(endToEnd).toBeGreaterThanOrEqual(90);
    expect(endToEnd).toBeLessThan(90 + 30);
    expect(sumOf(after, 'asana_stream_end_to_end_freshness_seconds_bucket', { le: '60' })).toBe(0);
    expect(sumOf(after, 'asana_stream_end_to_end_freshness_seconds_bucket', { le: '300' })).toBe(2);
    expect(sumOf(after, 'asana_stream_fanout_batch_duration_seconds_count', { result: 'ok' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(sumOf(after, 'asana_stream_fanout_parked_rows')).toBe(0);
    expect(sumOf(after, 'asana_stream_fanout_oldest_unpublished_age_seconds')).toBe(0);
    const topic = names.physical(changeTopic('task').name);
    expect(sumOf(after, 'asana_stream_kafka_publish_messages_total', { topic, outcome: 'acked' })).toBe(3);
    expect(after.samples.filter((sample) => sample.labels.app !== 'fanout')).toEqual([]);

    const labelValues = after.samples.flatMap((sample) => Object.values(sample.labels));
    for (const forbidden of [...GIDS, TASK_NAME]) {
      expect(labelValues.filter((value) => value.includes(forbidden))).toEqual([]);
    }
  });

  it('counts and gauges a row Kafka refuses as parked', async () => {
    const before = await scrape();
    const gid = '1705555555559999';
    await insertOutbox(sql, gid, 'x'.repeat(1_100_000));

    const after = await waitFor('the row to be parked and the backlog to show it', async () => {
      const exposition = await scrape();
      return sumOf(exposition, 'asana_stream_fanout_rows_total', { outcome: 'parked' }) === 1 &&
        sumOf(exposition, 'asana_stream_fanout_parked_rows') === 1
        ? exposition
        : undefined;
    });

    expect(sumOf(after, 'asana_stream_fanout_unpublished_rows')).toBe(1);
    // A parked row is an operator's to act on: it is not counted as the relay falling behind.
    expect(sumOf(after, 'asana_stream_fanout_oldest_unpublished_age_seconds')).toBe(0);
    const topic = names.physical(changeTopic('task').name);
    expect(
      sumOf(after, 'asana_stream_kafka_publish_messages_total', { topic, outcome: 'refused' }) -
        sumOf(before, 'asana_stream_kafka_publish_messages_total', { topic, outcome: 'refused' }),
    ).toBe(1);
    expect(sumOf(after, 'asana_stream_fanout_rows_total', { outcome: 'published' })).toBe(
      sumOf(before, 'asana_stream_fanout_rows_total', { outcome: 'published' }),
    );
    expect(after.samples.flatMap((sample) => Object.values(sample.labels)).filter((v) => v.includes(gid))).toEqual([]);
  });
});
