import { randomUUID } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Client } from 'pg';
import request from 'supertest';
import type { TopicNames } from '@asana-stream/contracts';
import { parseExposition, samplesOf } from '@asana-stream/metrics';
import { createPipelineApp } from '@asana-stream/runtime';
import {
  createTestDatabase,
  createTestTopics,
  TEST_BROKERS,
  TEST_WEBHOOK_SECRET_KEYS,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import { ENRICHER_APP } from './enricher.module';

describe("the enricher's GET /metrics", () => {
  let db: TestDatabase;
  let names: TopicNames;
  let app: NestExpressApplication;
  let sql: Client;

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    const created = await createPipelineApp(
      ENRICHER_APP,
      {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: names.prefix,
        ASANA_TOKEN: 'unused',
        ASANA_BASE_URL: 'http://127.0.0.1:9/api/1.0',
        EVENTS_FOLLOW: 'false',
        WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS,
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

  it("serves each active subscription's webhook health from Postgres, with EVENTS_FOLLOW off too", async () => {
    const id = randomUUID();
    await sql.query(
      /* sql */ `INSERT INTO subscriptions (id, webhook_gid, resource_gid, target_url, secret, status, created_at, last_heartbeat_at)
       VALUES ($1::uuid, '1300000000000042', '1200000000000042', 'http://ingest/webhooks/asana/' || $1::text, 's3cret', 'active',
               now() - interval '2 days', now() - interval '3 hours')`,
      [id],
    );

    const exposition = await waitFor('the subscription to be gauged', async () => {
      const response = await request(app.getHttpServer()).get('/metrics');
      expect(response.status).toBe(200);
      const parsed = parseExposition(response.text);
      return samplesOf(parsed, 'asana_stream_webhook_last_contact_age_seconds', { subscription_id: id }).length
        ? parsed
        : undefined;
    });

    const [contact] = samplesOf(exposition, 'asana_stream_webhook_last_contact_age_seconds', {
      subscription_id: id,
      app: 'enricher',
    });
    expect(contact.value).toBeGreaterThan(3 * 3600 - 60);
    expect(contact.value).toBeLessThan(3 * 3600 + 60);
    expect(samplesOf(exposition, 'asana_stream_webhook_failing', { subscription_id: id })[0].value).toBe(0);
    expect(exposition.types.get('asana_stream_asana_budget_remaining_requests')).toBe('gauge');
    expect(exposition.types.get('asana_stream_asana_budget_exhausted_total')).toBe('counter');
  });
});
