import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import { signAsanaBody } from '@asana-stream/asana';
import {
  createTestDatabase,
  createTestTopics,
  TEST_SERVER_URL,
  testWebhookSecretCipher,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import { addSubscription, CapturingLogger, deliver, SECRET, startIngest, TcpProxy } from '../../test/ingest-harness';

const CACHE_MS = 1000;
const HEARTBEAT = '{"events":[]}';

describe('the subscription lookup, with Postgres behind a proxy this test can cut', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let sql: Client;
  let app: INestApplication;
  let logger: CapturingLogger;

  beforeAll(async () => {
    let prefix: string;
    [db, { prefix }] = await Promise.all([createTestDatabase(), createTestTopics()]);
    const server = new URL(TEST_SERVER_URL);
    proxy = await new TcpProxy({ host: server.hostname, port: Number(server.port || 5432) }).open();
    // ingest reaches its database through the proxy only; the test's own connection goes direct.
    const throughProxy = new URL(db.url);
    throughProxy.host = `127.0.0.1:${proxy.port}`;
    logger = new CapturingLogger();
    app = await startIngest(
      {
        DATABASE_URL: throughProxy.toString(),
        KAFKA_TOPIC_PREFIX: prefix,
        INGEST_SUBSCRIPTION_CACHE_MS: String(CACHE_MS),
      },
      logger,
    );
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  });

  afterAll(async () => {
    await proxy?.open().catch(() => undefined);
    await app?.close();
    await proxy?.close();
    await sql?.end();
    await db?.drop();
  });

  it('accepts a new subscription within INGEST_SUBSCRIPTION_CACHE_MS of its creation, though a miss was cached', async () => {
    const id = randomUUID();
    await deliver(app, id, HEARTBEAT).expect(404);
    await addSubscription(sql, { id });
    const created = Date.now();

    await waitFor(
      'the new subscription to be accepted',
      async () => (await deliver(app, id, HEARTBEAT)).status === 200,
      {
        intervalMs: 50,
      },
    );

    expect(Date.now() - created).toBeLessThan(CACHE_MS + 500);
  });

  it('refuses a deleted subscription within INGEST_SUBSCRIPTION_CACHE_MS', async () => {
    const id = await addSubscription(sql);
    await deliver(app, id, HEARTBEAT).expect(200);
    await sql.query(/* sql */ `UPDATE subscriptions SET status = 'deleted' WHERE id = $1`, [id]);
    const deleted = Date.now();

    await waitFor(
      'the deleted subscription to be refused',
      async () => (await deliver(app, id, HEARTBEAT)).status === 404,
      {
        intervalMs: 50,
      },
    );

    expect(Date.now() - deleted).toBeLessThan(CACHE_MS + 500);
  });

  it('keeps a subscription in use fresh in the background: Postgres is asked with no delivery waiting, a rotated secret is used within the TTL', async () => {
    const id = await addSubscription(sql);
    await deliver(app, id, HEARTBEAT).expect(200);

    // With the table locked and no delivery sent, only the cache's own refresh (one query for
    // every subscription in use: `id IN (...)`) can be found waiting on it.
    const locker = new Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE');
      const waiting = await waitFor(
        'the background refresh to wait on the locked table',
        async () => {
          const { rows } = await sql.query<{ query: string }>(/* sql */ `SELECT query FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%subscriptions%'`);
          return rows.find((row) => /"id" IN \(\$1/.test(row.query));
        },
        { timeoutMs: CACHE_MS * 3, intervalMs: 50 },
      );
      expect(waiting.query).toMatch(/FROM "subscriptions"/);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }

    const rotated = 'a-rotated-secret-of-this-subscription';
    await sql.query(/* sql */ `UPDATE subscriptions SET secret = $2 WHERE id = $1`, [
      id,
      testWebhookSecretCipher().encrypt(id, rotated),
    ]);
    const changed = Date.now();
    await waitFor(
      'deliveries signed with the rotated secret to be accepted',
      async () => (await deliver(app, id, HEARTBEAT, { signature: signAsanaBody(rotated, HEARTBEAT) })).status === 200,
      { intervalMs: 50 },
    );
    expect(Date.now() - changed).toBeLessThan(CACHE_MS + 500);
  });

  it('while Postgres is unreachable, accepts known subscriptions and answers 503 for the rest, handshakes too', async () => {
    const known = await addSubscription(sql);
    const notYetLookedUp = await addSubscription(sql);
    const pending = await addSubscription(sql, { status: 'pending_handshake', secret: null });
    await deliver(app, known, HEARTBEAT).expect(200);
    const linesBefore = logger.lines.length;

    await proxy.close();
    try {
      // Within the TTL the cache answers without asking Postgres at all...
      await deliver(app, known, HEARTBEAT).expect(200);
      // ...and past it, the lookup fails and the last answer is served (stale-while-error).
      await sleep(CACHE_MS + 100);
      await deliver(app, known, HEARTBEAT).expect(200);
      const unknown = await deliver(app, notYetLookedUp, HEARTBEAT);
      const handshake = await request(app.getHttpServer())
        .post(`/webhooks/asana/${pending}`)
        .set('X-Hook-Secret', SECRET)
        .send();

      expect([unknown.status, unknown.body]).toEqual([
        503,
        { error: 'DATABASE_UNAVAILABLE', message: 'the subscription could not be looked up; retry later' },
      ]);
      expect([handshake.status, handshake.body]).toEqual([
        503,
        { error: 'DATABASE_UNAVAILABLE', message: 'the handshake could not be stored; retry later' },
      ]);
      // Still ready: a pod that says otherwise gets no deliveries at all, known subscriptions' included.
      const ready = await request(app.getHttpServer()).get('/health/ready');
      expect([ready.status, Object.keys(ready.body.info ?? {})]).toEqual([200, ['kafka-producer']]);
      const during = logger.lines.slice(linesBefore);
      expect(logger.withMsg(/^postgres does not answer/)).toHaveLength(1);
      expect(during.filter((l) => l.level === 'error')).toEqual([]);
      expect(JSON.stringify(during)).not.toContain('    at ');
    } finally {
      await proxy.open();
    }

    await waitFor('the subscription to be found once Postgres answers', async () => {
      return (await deliver(app, notYetLookedUp, HEARTBEAT)).status === 200;
    });
    expect(logger.withMsg(/^postgres answers again/)).toHaveLength(1);
  });
});
