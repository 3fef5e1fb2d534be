import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import { asanaEventId, signAsanaBody, type AsanaEvent } from '@asana-stream/asana';
import { TOPICS, type AsanaEventEnvelope, type RawDeliveryRecord, type TopicNames } from '@asana-stream/contracts';
import { createPipelineApp } from '@asana-stream/runtime';
import {
  asanaTaskEvent,
  createTestDatabase,
  createTestTopics,
  testKafka,
  totalEndOffset,
  TopicRecorder,
  waitFor,
  type ReceivedMessage,
  type TestDatabase,
} from '@asana-stream/testing';
import { INGEST_APP } from '../ingest.module';

const SECRET = 'a-webhook-secret-of-32-characters';

function event(gid: string, field: string): AsanaEvent {
  return asanaTaskEvent({
    resource: { gid, resource_type: 'task', resource_subtype: 'default_task' },
    change: { field, action: 'changed' },
  });
}

/**
 * A delivery as Asana might format it: odd spacing and non-ASCII text, so a body that was
 * parsed and serialised again would not match the bytes that were signed.
 */
const deliveryBody = (...events: AsanaEvent[]): string =>
  `{ "events" :\n  ${JSON.stringify(events, null, 1)} , "note": "résumé ✓" }\n`;

/** The real ingest app, in-process, built by the same bootstrap as main.ts (short of listening). */
async function startIngest(env: Record<string, string>): Promise<INestApplication> {
  const { app } = await createPipelineApp(INGEST_APP, env, { logger: false });
  return app.init();
}

describe('WebhooksController with the real IngestModule, database and broker', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let app: INestApplication;
  let sql: Client;
  let recorder: TopicRecorder;
  let eventsTopic: string;
  let deliveriesTopic: string;
  /** A subscription whose handshake is done: deliveries for it are signed with SECRET. */
  let active: string;

  const offsets = async () => ({
    events: await totalEndOffset(testKafka(), [eventsTopic]),
    deliveries: await totalEndOffset(testKafka(), [deliveriesTopic]),
  });
  const deliveryRecords = (deliveryId: string) =>
    recorder.messages.filter(
      (m) => m.topic === deliveriesTopic && (m.value as RawDeliveryRecord).deliveryId === deliveryId,
    );
  const eventMessages = (deliveryId: string): ReceivedMessage[] =>
    recorder.messages.filter(
      (m) => m.topic === eventsTopic && (m.value as AsanaEventEnvelope).deliveryId === deliveryId,
    );
  const subscription = async (id: string) =>
    (
      await sql.query<{ secret: string | null; handshake_at: Date | null; last_heartbeat_at: Date | null }>(
        /* sql */ `SELECT secret, handshake_at, last_heartbeat_at FROM subscriptions WHERE id = $1`,
        [id],
      )
    ).rows[0];
  const addSubscription = async (status: 'pending_handshake' | 'active', secret: string | null): Promise<string> => {
    const id = randomUUID();
    await sql.query(
      /* sql */ `INSERT INTO subscriptions (id, resource_gid, target_url, secret, status) VALUES ($1, $2, $3, $4, $5)`,
      [id, '1100', `http://ingest.test/webhooks/asana/${id}`, secret, status],
    );
    return id;
  };

  /** POSTs `body` as raw bytes, signed with SECRET unless told otherwise; null sends no such header. */
  function deliver(
    subscriptionId: string,
    body: string,
    {
      signature = signAsanaBody(SECRET, body),
      contentType = 'application/json',
      to = app,
    }: { signature?: string | null; contentType?: string | null; to?: INestApplication } = {},
  ) {
    const post = request(to.getHttpServer())
      .post(`/webhooks/asana/${subscriptionId}`)
      .serialize((bytes: Buffer) => bytes as unknown as string);
    if (contentType !== null) void post.set('Content-Type', contentType);
    if (signature !== null) void post.set('X-Hook-Signature', signature);
    return post.send(Buffer.from(body, 'utf8'));
  }
  const handshake = (subscriptionId: string, secret: string) =>
    request(app.getHttpServer()).post(`/webhooks/asana/${subscriptionId}`).set('X-Hook-Secret', secret).send();

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    eventsTopic = names.physical(TOPICS.events.name);
    deliveriesTopic = names.physical(TOPICS.deliveries.name);
    app = await startIngest({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix });
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    active = await addSubscription('active', SECRET);
    recorder = await new TopicRecorder([eventsTopic, deliveriesTopic]).start();
  });

  afterAll(async () => {
    await recorder?.stop();
    await app?.close();
    await sql?.end();
    await db?.drop();
  });

  describe('the handshake', () => {
    it('echoes X-Hook-Secret for a subscription pending its handshake and stores the secret', async () => {
      const id = await addSubscription('pending_handshake', null);

      const response = await handshake(id, SECRET);

      expect(response.status).toBe(200);
      expect(response.headers['x-hook-secret']).toBe(SECRET);
      const stored = await subscription(id);
      expect(stored.secret).toBe(SECRET);
      expect(stored.handshake_at).toBeInstanceOf(Date);
    });

    it('refuses a second handshake for the same subscription and keeps the first secret', async () => {
      const id = await addSubscription('pending_handshake', null);
      await handshake(id, SECRET).expect(200);

      const response = await handshake(id, 'an-attackers-secret-of-32-chars!!');

      expect(response.status).toBe(403);
      expect(response.headers['x-hook-secret']).toBeUndefined();
      expect((await subscription(id)).secret).toBe(SECRET);
    });

    it('answers 404 for a subscription nobody created', async () => {
      const response = await handshake(randomUUID(), SECRET);

      expect(response.status).toBe(404);
      expect(response.headers['x-hook-secret']).toBeUndefined();
    });
  });

  describe('a signed delivery', () => {
    it('is answered 200 only once Kafka holds every event and the raw body', async () => {
      const sent = [event('1201', 'name'), event('1202', 'completed'), event('1201', 'assignee')];
      const body = deliveryBody(...sent);
      const before = await offsets();

      const response = await deliver(active, body);

      expect(response.status).toBe(200);
      // Read right after the answer, without waiting: acknowledged means already in Kafka.
      expect(await offsets()).toEqual({ events: before.events + 3, deliveries: before.deliveries + 1 });
      const { deliveryId } = response.body as { deliveryId: string };
      expect(response.body).toEqual({ deliveryId, eventCount: 3 });

      await waitFor(
        'the delivery and its events',
        () => eventMessages(deliveryId).length >= 3 && deliveryRecords(deliveryId).length >= 1,
      );
      const events = eventMessages(deliveryId);
      expect(events.map((m) => m.key).sort()).toEqual(['1201', '1201', '1202']);
      for (const message of events) {
        const envelope = message.value as AsanaEventEnvelope;
        expect(message.key).toBe(envelope.event.resource.gid);
        expect(envelope).toEqual({
          eventId: asanaEventId(envelope.event),
          source: 'webhook',
          subscriptionId: active,
          deliveryId,
          receivedAt: expect.any(String),
          event: expect.anything(),
        });
        expect(Date.parse(envelope.receivedAt)).not.toBeNaN();
      }
      expect(events.map((m) => (m.value as AsanaEventEnvelope).event)).toEqual(expect.arrayContaining(sent));
      expect(new Set(events.map((m) => (m.value as AsanaEventEnvelope).eventId)).size).toBe(3);
      const [record] = deliveryRecords(deliveryId);
      expect(record.key).toBe(active);
      const value = record.value as RawDeliveryRecord;
      expect(Buffer.from(value.bodyBase64, 'base64').equals(Buffer.from(body, 'utf8'))).toBe(true);
      expect(value).toMatchObject({ subscriptionId: active, deliveryId, eventCount: 3 });
      expect(value.headers).toMatchObject({
        'content-type': 'application/json',
        'x-hook-signature': signAsanaBody(SECRET, body),
      });
    });

    it('gets the same event ids when Asana sends it again', async () => {
      const body = deliveryBody(event('1203', 'name'), event('1204', 'notes'));

      const first = await deliver(active, body).expect(200);
      const second = await deliver(active, body).expect(200);

      const deliveryId = (first.body as { deliveryId: string }).deliveryId;
      expect((second.body as { deliveryId: string }).deliveryId).toBe(deliveryId);
      await waitFor('both copies of both events', () => eventMessages(deliveryId).length >= 4);
      const idsByGid = new Map<string, Set<string>>();
      for (const message of eventMessages(deliveryId)) {
        const ids = idsByGid.get(message.key!) ?? new Set<string>();
        ids.add((message.value as AsanaEventEnvelope).eventId);
        idsByGid.set(message.key!, ids);
      }
      expect([...idsByGid.entries()].map(([gid, ids]) => [gid, ids.size]).sort()).toEqual([
        ['1203', 1],
        ['1204', 1],
      ]);
    });

    it.each([
      ['text/plain', 'text/plain', '1205'],
      ['no content type at all', null, '1206'],
    ])('verifies with %s', async (_label, contentType, gid) => {
      const body = deliveryBody(event(gid, 'name'));

      const response = await deliver(active, body, { contentType });

      expect(response.status).toBe(200);
      const { deliveryId } = response.body as { deliveryId: string };
      await waitFor('the raw delivery', () => deliveryRecords(deliveryId).length >= 1);
      const value = deliveryRecords(deliveryId)[0].value as RawDeliveryRecord;
      expect(value.headers['content-type']).toBe(contentType ?? undefined);
      expect(Buffer.from(value.bodyBase64, 'base64').toString('utf8')).toBe(body);
    });
  });

  describe('a delivery Kafka refuses', () => {
    it('is answered 503, not 200, so Asana retries it', async () => {
      // A valid delivery larger than the broker's message.max.bytes (1 MB by default): Kafka
      // rejects the write at once. A separate app keeps this failure out of the shared producer.
      const huge = deliveryBody({ ...event('1210', 'notes'), padding: 'x'.repeat(1_200_000) } as AsanaEvent);
      const refused = await startIngest({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix });
      try {
        const before = await offsets();

        const response = await deliver(active, huge, { to: refused });

        expect(response.status).toBe(503);
        expect(response.body).toMatchObject({ error: 'KAFKA_UNAVAILABLE' });
        expect(await offsets()).toEqual(before);
      } finally {
        await refused.close();
      }
    });
  });

  describe('a delivery that must not be accepted', () => {
    it('answers 401 to a bad signature and publishes nothing', async () => {
      const body = deliveryBody(event('1207', 'name'));
      const good = signAsanaBody(SECRET, body);
      const before = await offsets();

      const statuses = [
        (await deliver(active, body, { signature: good.replace(/^./, (c) => (c === '0' ? '1' : '0')) })).status,
        (await deliver(active, body, { signature: `${good}00` })).status,
        (await deliver(active, body, { signature: good.toUpperCase() })).status,
        (await deliver(active, body, { signature: signAsanaBody('another-secret-of-32-characters!', body) })).status,
        (await deliver(active, body, { signature: null })).status,
        (await deliver(active, `${body} `, { signature: good })).status,
      ];

      expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
      expect(await offsets()).toEqual(before);
      // Publishes go through one queue in order: once a later delivery is acknowledged, anything
      // the rejected ones had queued would be in Kafka too.
      await deliver(active, deliveryBody(event('1208', 'name'))).expect(200);
      expect(await offsets()).toEqual({ events: before.events + 1, deliveries: before.deliveries + 1 });
    });

    it('answers 400 to a signed body with a __proto__ key and publishes nothing', async () => {
      const body = `{"events":[],"__proto__":{"polluted":true}}`;
      const before = await offsets();

      const response = await deliver(active, body);

      expect(response.status).toBe(400);
      expect(await offsets()).toEqual(before);
    });

    it('answers 400 to a subscription id that is not a UUID', async () => {
      const response = await deliver('not-a-uuid', deliveryBody(event('1209', 'name')));

      expect(response.status).toBe(400);
    });
  });

  describe('a heartbeat', () => {
    it('is answered 200, publishes only the raw delivery and records the heartbeat', async () => {
      const id = await addSubscription('active', SECRET);
      expect((await subscription(id)).last_heartbeat_at).toBeNull();
      const before = await offsets();

      const response = await deliver(id, '{"events":[]}');

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ eventCount: 0 });
      expect(await offsets()).toEqual({ events: before.events, deliveries: before.deliveries + 1 });
      expect((await subscription(id)).last_heartbeat_at).toBeInstanceOf(Date);
    });
  });
});
