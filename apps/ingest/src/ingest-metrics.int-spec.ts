import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import type { AsanaEvent } from '@asana-stream/asana';
import type { TopicNames } from '@asana-stream/contracts';
import { parseExposition, samplesOf, sumOf, type Exposition } from '@asana-stream/metrics';
import { asanaTaskEvent, createTestDatabase, createTestTopics, type TestDatabase } from '@asana-stream/testing';
import { addSubscription, deliver, deliveryBody, SECRET, startIngest } from '../test/ingest-harness';

/** What a task event of the deliveries below carries that no metric label may: its gid and name. */
const GIDS = ['1701234567890001', '1701234567890002'];
const TASK_NAME = 'Quarterly plan for Zeta launch';
const HANDSHAKE_SECRET = 'handshake-secret-0123456789abcdef';
const FORGED_SIGNATURE = 'f'.repeat(64);

const taskEvent = (gid: string) =>
  asanaTaskEvent({
    // Asana may send a resource's name; the contract lets it through.
    resource: {
      gid,
      resource_type: 'task',
      resource_subtype: 'default_task',
      name: TASK_NAME,
    } as AsanaEvent['resource'],
    change: { field: 'name', action: 'changed' },
  });

describe("ingest's GET /metrics after real deliveries", () => {
  let db: TestDatabase;
  let names: TopicNames;
  let sql: Client;
  let app: INestApplication;
  let active: string;

  const scrape = async (): Promise<{ exposition: Exposition; text: string; contentType: string }> => {
    const response = await request(app.getHttpServer() as Server).get('/metrics');
    expect(response.status).toBe(200);
    return {
      exposition: parseExposition(response.text),
      text: response.text,
      contentType: String(response.headers['content-type']),
    };
  };

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    app = await startIngest({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix });
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    active = await addSubscription(sql);
  });

  afterAll(async () => {
    await app?.close();
    await sql?.end();
    await db?.drop();
  });

  it('counts each answer by outcome, times it, counts events, heartbeats and Kafka messages, with no gid, name, secret or client-chosen id as a label', async () => {
    const before = (await scrape()).exposition;
    const pending = await addSubscription(sql, { status: 'pending_handshake', secret: null });
    const unknown = randomUUID();

    const answers = [
      (await deliver(app, active, deliveryBody(taskEvent(GIDS[0]), taskEvent(GIDS[1])))).status,
      (await deliver(app, active, '{"events":[]}')).status,
      (await deliver(app, active, deliveryBody(taskEvent(GIDS[0])), { signature: FORGED_SIGNATURE })).status,
      (await deliver(app, unknown, deliveryBody(taskEvent(GIDS[0])))).status,
      (await deliver(app, active, 'not json at all')).status,
      (await deliver(app, active, Buffer.alloc(1_000_000, 0x20))).status,
      (await deliver(app, 'not-a-uuid', '{"events":[]}')).status,
      (
        await request(app.getHttpServer() as Server)
          .post(`/webhooks/asana/${pending}`)
          .set('X-Hook-Secret', HANDSHAKE_SECRET)
          .send()
      ).status,
    ];
    expect(answers).toEqual([200, 200, 401, 404, 400, 413, 400, 200]);

    const { exposition: after, text, contentType } = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sumOf(after, name, labels) - sumOf(before, name, labels);

    expect(contentType).toMatch(/^text\/plain;/);
    expect(contentType).toContain('version=0.0.4');
    const outcomes = Object.fromEntries(
      samplesOf(after, 'asana_stream_ingest_deliveries_total').map((sample) => [
        `${sample.labels.outcome} ${sample.labels.status_class}`,
        sample.value - sumOf(before, 'asana_stream_ingest_deliveries_total', sample.labels),
      ]),
    );
    expect(outcomes).toEqual({
      'accepted 2xx': 2,
      'bad_signature 4xx': 1,
      'unknown_subscription 4xx': 1,
      'malformed_delivery 4xx': 1,
      'message_too_large 4xx': 1,
      'http_400 4xx': 1,
      'handshake 2xx': 1,
    });
    expect(delta('asana_stream_ingest_delivery_duration_seconds_count')).toBe(8);
    expect(delta('asana_stream_ingest_delivery_duration_seconds_count', { status_class: '4xx' })).toBe(5);
    expect(delta('asana_stream_ingest_delivery_events_count')).toBe(2);
    expect(delta('asana_stream_ingest_delivery_events_sum')).toBe(2);
    expect(delta('asana_stream_ingest_delivery_events_bucket', { le: '0' })).toBe(1);
    expect(delta('asana_stream_ingest_heartbeats_total')).toBe(1);
    const [age] = samplesOf(after, 'asana_stream_ingest_last_delivery_age_seconds', { subscription_id: active });
    expect(age.value).toBeGreaterThanOrEqual(0);
    expect(age.value).toBeLessThan(60);
    expect(
      samplesOf(after, 'asana_stream_ingest_last_delivery_age_seconds').map((s) => s.labels.subscription_id),
    ).toEqual([active]);

    // The publisher: 2 raw deliveries, 2 events, 1 quarantined body, in acknowledged requests.
    const topic = (name: string) => ({ topic: names.physical(name), outcome: 'acked' });
    expect(delta('asana_stream_kafka_publish_messages_total', topic('asana.deliveries'))).toBe(2);
    expect(delta('asana_stream_kafka_publish_messages_total', topic('asana.events'))).toBe(2);
    expect(delta('asana_stream_kafka_publish_messages_total', topic('asana.deliveries.quarantine'))).toBe(1);
    expect(delta('asana_stream_kafka_publish_requests_total', { outcome: 'acked' })).toBeGreaterThanOrEqual(1);
    expect(delta('asana_stream_kafka_publish_requests_total', { outcome: 'failed' })).toBe(0);
    expect(delta('asana_stream_kafka_publish_request_duration_seconds_count', { outcome: 'acked' })).toBe(
      delta('asana_stream_kafka_publish_requests_total', { outcome: 'acked' }),
    );

    // The process's own metrics, and the app label on every sample.
    expect(samplesOf(after, 'process_resident_memory_bytes', { app: 'ingest' })).toHaveLength(1);
    expect(after.samples.filter((sample) => sample.labels.app !== 'ingest')).toEqual([]);

    // Nothing a delivery carries, nothing secret and no id a client made up is a label.
    const labelValues = after.samples.flatMap((sample) => Object.values(sample.labels));
    for (const forbidden of [
      ...GIDS,
      TASK_NAME,
      SECRET,
      HANDSHAKE_SECRET,
      FORGED_SIGNATURE,
      unknown,
      'not-a-uuid',
      pending,
    ]) {
      expect(labelValues.filter((value) => value.includes(forbidden))).toEqual([]);
      expect(text).not.toContain(forbidden);
    }
  });
});
