import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import { asanaEventId, signAsanaBody } from '@asana-stream/asana';
import { QUARANTINE_TOPIC, TOPICS, type AsanaEventEnvelope, type TopicNames } from '@asana-stream/contracts';
import {
  createTestDatabase,
  createTestTopics,
  testKafka,
  totalEndOffset,
  TopicRecorder,
  waitFor,
  type ReceivedMessage,
  type TestDatabase,
  rawValue,
  testWebhookSecretCipher,
} from '@asana-stream/testing';
import {
  addSubscription,
  deliver,
  deliveryBody,
  SECRET,
  startIngest,
  taskEvent as event,
} from '../../test/ingest-harness';
import { MAX_DELIVERY_DEPTH } from './delivery-body';

/** INGEST_MAX_BODY_BYTES by default. */
const MAX_BODY_BYTES = 983_040;

/** A compact delivery (as Asana sends them) of `count` task events, on `gids(i)`. */
function compactDelivery(count: number, gid: (i: number) => string): string {
  return JSON.stringify({ events: Array.from({ length: count }, (_, i) => event(gid(i), 'name')) });
}

describe('WebhooksController with the real IngestModule, database and broker', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let app: INestApplication;
  let sql: Client;
  let recorder: TopicRecorder;
  let raw: TopicRecorder<Buffer>;
  let eventsTopic: string;
  let deliveriesTopic: string;
  let quarantineTopic: string;
  /** A subscription whose handshake is done: deliveries for it are signed with SECRET. */
  let active: string;

  const offsets = async () => ({
    events: await totalEndOffset(testKafka(), [eventsTopic]),
    deliveries: await totalEndOffset(testKafka(), [deliveriesTopic]),
    quarantine: await totalEndOffset(testKafka(), [quarantineTopic]),
  });
  const deliveryRecords = (deliveryId: string) => raw.find(deliveriesTopic, 'deliveryId', deliveryId);
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
  const subscriptionSecret = async (id: string) => (await subscription(id)).secret;
  const handshake = (subscriptionId: string, secret: string) =>
    request(app.getHttpServer()).post(`/webhooks/asana/${subscriptionId}`).set('X-Hook-Secret', secret).send();
  /** A normal delivery right after a refused one is answered at once: the refusal left nothing behind. */
  const expectNextDeliveryServedAtOnce = async () => {
    const started = Date.now();
    await deliver(app, active, deliveryBody(event('1290', 'name'))).expect(200);
    expect(Date.now() - started).toBeLessThan(1000);
  };

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    eventsTopic = names.physical(TOPICS.events.name);
    deliveriesTopic = names.physical(TOPICS.deliveries.name);
    quarantineTopic = names.physical(QUARANTINE_TOPIC.name);
    app = await startIngest({ DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: names.prefix });
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    active = await addSubscription(sql);
    [recorder, raw] = await Promise.all([
      new TopicRecorder([eventsTopic]).start(),
      new TopicRecorder([deliveriesTopic, quarantineTopic], rawValue).start(),
    ]);
  });

  afterAll(async () => {
    await recorder?.stop();
    await raw?.stop();
    await app?.close();
    await sql?.end();
    await db?.drop();
  });

  describe('the handshake', () => {
    it('echoes X-Hook-Secret for a subscription pending its handshake and stores the secret', async () => {
      const id = await addSubscription(sql, { status: 'pending_handshake', secret: null });

      const response = await handshake(id, SECRET);

      expect(response.status).toBe(200);
      expect(response.headers['x-hook-secret']).toBe(SECRET);
      const stored = await subscription(id);
      expect(stored.secret).toMatch(/^enc:v1:test:/);
      expect(stored.secret).not.toContain(SECRET);
      expect(testWebhookSecretCipher().decrypt(id, stored.secret!)).toBe(SECRET);
      expect(stored.handshake_at).toBeInstanceOf(Date);
    });

    it('stores a secret that opens for its own subscription only: copied onto another row, it verifies nothing', async () => {
      const id = await addSubscription(sql, { status: 'pending_handshake', secret: null });
      await handshake(id, SECRET).expect(200);
      const other = await addSubscription(sql, { status: 'pending_handshake', secret: null });
      await handshake(other, 'another-secret-of-32-characters!').expect(200);

      await sql.query(
        /* sql */ `UPDATE subscriptions SET secret = (SELECT secret FROM subscriptions WHERE id = $1) WHERE id = $2`,
        [id, other],
      );

      const copied = (await subscriptionSecret(other))!;
      expect(() => testWebhookSecretCipher().decrypt(other, copied)).toThrow(/does not open/);
      const refused = await deliver(app, other, '{"events":[]}');
      expect(refused.status).toBe(503);
      expect(refused.body).toEqual({
        error: 'CONFIG_INVALID',
        message: 'temporarily unable to accept the delivery; retry later',
      });
      await deliver(app, id, '{"events":[]}').expect(200);
    });

    it('verifies deliveries of a subscription whose secret was stored before encryption', async () => {
      const legacy = await addSubscription(sql, { storedAs: 'plaintext' });
      expect((await subscription(legacy)).secret).toBe(SECRET);

      await deliver(app, legacy, '{"events":[]}').expect(200);
      await deliver(app, legacy, '{"events":[]}', {
        signature: signAsanaBody('another-secret-of-32-characters!', '{"events":[]}'),
      }).expect(401);
    });

    it('refuses a second handshake for the same subscription and keeps the first secret', async () => {
      const id = await addSubscription(sql, { status: 'pending_handshake', secret: null });
      await handshake(id, SECRET).expect(200);

      const response = await handshake(id, 'an-attackers-secret-of-32-chars!!');

      expect(response.status).toBe(403);
      expect(response.headers['x-hook-secret']).toBeUndefined();
      expect(testWebhookSecretCipher().decrypt(id, (await subscription(id)).secret!)).toBe(SECRET);
    });

    it('answers 404 for a subscription nobody created', async () => {
      const response = await handshake(randomUUID(), SECRET);

      expect(response.status).toBe(404);
      expect(response.headers['x-hook-secret']).toBeUndefined();
    });

    it("accepts the subscription's first delivery right after the handshake, even with a miss cached before it", async () => {
      const id = await addSubscription(sql, { status: 'pending_handshake', secret: null });
      // A delivery before the handshake caches "no such subscription" for INGEST_SUBSCRIPTION_CACHE_MS...
      await deliver(app, id, '{"events":[]}').expect(404);
      await handshake(id, SECRET).expect(200);

      // ...which the handshake forgets: Asana's first heartbeat follows it at once.
      await deliver(app, id, '{"events":[]}').expect(200);
    });
  });

  describe('a signed delivery', () => {
    it('is answered 200 only once Kafka holds every event and the raw body', async () => {
      const sent = [event('1201', 'name'), event('1202', 'completed'), event('1201', 'assignee')];
      const body = deliveryBody(...sent);
      const before = await offsets();

      const response = await deliver(app, active, body);

      expect(response.status).toBe(200);
      // Read right after the answer, without waiting: acknowledged means already in Kafka.
      expect(await offsets()).toEqual({ ...before, events: before.events + 3, deliveries: before.deliveries + 1 });
      const { deliveryId } = response.body as { deliveryId: string };
      expect(response.body).toEqual({ deliveryId, eventCount: 3 });
      // Nothing Asana does not read: no ETag computed over the answer, no X-Powered-By.
      expect(response.headers.etag).toBeUndefined();
      expect(response.headers['x-powered-by']).toBeUndefined();

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
    });

    it('is stored on asana.deliveries as the signed bytes exactly, its metadata in Kafka headers', async () => {
      const body = deliveryBody(event('1211', 'name'), event('1212', 'notes'));

      const response = await deliver(app, active, body);

      expect(response.status).toBe(200);
      const { deliveryId } = response.body as { deliveryId: string };
      const [record] = await waitFor(
        'the raw delivery',
        () => deliveryRecords(deliveryId).length > 0 && deliveryRecords(deliveryId),
      );
      expect(record.key).toBe(active);
      // Byte for byte, not re-encoded: the value is what the signature covers.
      expect(record.value.equals(Buffer.from(body, 'utf8'))).toBe(true);
      expect(record.headers).toMatchObject({
        subscriptionId: active,
        deliveryId,
        eventCount: '2',
        'content-type': 'application/json',
        'x-hook-signature': signAsanaBody(SECRET, body),
      });
      expect(Date.parse(record.headers.receivedAt)).not.toBeNaN();
      expect(signAsanaBody(SECRET, record.value)).toBe(record.headers['x-hook-signature']);
    });

    it('gets the same event ids when Asana sends it again', async () => {
      const body = deliveryBody(event('1203', 'name'), event('1204', 'notes'));

      const first = await deliver(app, active, body).expect(200);
      const second = await deliver(app, active, body).expect(200);

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

      const response = await deliver(app, active, body, { contentType });

      expect(response.status).toBe(200);
      const { deliveryId } = response.body as { deliveryId: string };
      const [record] = await waitFor(
        'the raw delivery',
        () => deliveryRecords(deliveryId).length > 0 && deliveryRecords(deliveryId),
      );
      expect(record.headers['content-type']).toBe(contentType ?? undefined);
      expect(record.value.toString('utf8')).toBe(body);
    });

    it('of 870 KB with 3,389 events on as many tasks is accepted whole: every event and the raw body', async () => {
      // The delivery that once got 503 after its events were published and its raw body was not.
      const body = compactDelivery(3389, (i) => String(1_300_000_000_000 + i));
      expect(body.length).toBeGreaterThan(850_000);
      const before = await offsets();

      const response = await deliver(app, active, body);

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ eventCount: 3389 });
      expect(await offsets()).toEqual({ ...before, events: before.events + 3389, deliveries: before.deliveries + 1 });
      const { deliveryId } = response.body as { deliveryId: string };
      const [record] = await waitFor(
        'the raw delivery',
        () => deliveryRecords(deliveryId).length > 0 && deliveryRecords(deliveryId),
      );
      expect(record.value.equals(Buffer.from(body))).toBe(true);
    });
  });

  describe('a delivery as large as INGEST_MAX_BODY_BYTES', () => {
    it('is accepted, its raw body stored byte for byte in one Kafka message', async () => {
      const events = compactDelivery(3600, (i) => String(1_600_000_000_000 + i));
      // Padded to the limit exactly, inside the JSON object.
      const padding = MAX_BODY_BYTES - Buffer.byteLength(events) - ',"note":""'.length;
      const body = `${events.slice(0, -1)},"note":"${'x'.repeat(padding)}"}`;
      expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
      const before = await offsets();

      const response = await deliver(app, active, body);

      expect(response.status).toBe(200);
      expect(await offsets()).toEqual({ ...before, events: before.events + 3600, deliveries: before.deliveries + 1 });
      const { deliveryId } = response.body as { deliveryId: string };
      const [record] = await waitFor(
        'the raw delivery',
        () => deliveryRecords(deliveryId).length > 0 && deliveryRecords(deliveryId),
      );
      expect(record.value.equals(Buffer.from(body))).toBe(true);
    });
  });

  describe('a delivery larger than Kafka accepts', () => {
    it('over INGEST_MAX_BODY_BYTES is answered 413 with a clear message, and nothing is published', async () => {
      const body = compactDelivery(4700, (i) => String(1_400_000_000_000 + i));
      expect(body.length).toBeGreaterThan(MAX_BODY_BYTES);
      const before = await offsets();

      const response = await deliver(app, active, body);

      expect(response.status).toBe(413);
      expect(response.body).toEqual({
        error: 'MESSAGE_TOO_LARGE',
        message: `the body is larger than the ${MAX_BODY_BYTES} bytes ingest accepts (INGEST_MAX_BODY_BYTES)`,
      });
      expect(await offsets()).toEqual(before);
      await expectNextDeliveryServedAtOnce();
    });

    it('whose events for one partition exceed the broker limit is answered 413, and nothing is published', async () => {
      // Within the body limit, but 3,389 events of one task are one record batch of about 1.6 MB:
      // the broker would refuse that batch after writing the others.
      const body = compactDelivery(3389, () => '1500000000000001');
      expect(body.length).toBeLessThan(MAX_BODY_BYTES);
      const before = await offsets();

      const response = await deliver(app, active, body);

      expect(response.status).toBe(413);
      expect(response.body).toEqual({
        error: 'MESSAGE_TOO_LARGE',
        message: expect.stringMatching(
          /^the delivery is too large for Kafka: its 3389 events for one partition take \d+ bytes, more than the 1048588 one write accepts$/,
        ),
      });
      expect(await offsets()).toEqual(before);
      await expectNextDeliveryServedAtOnce();
    });
  });

  describe('topics raised to take larger messages', () => {
    it('with KAFKA_MAX_MESSAGE_BYTES raised to match, a 1.2 MB delivery is taken whole', async () => {
      // The operator raises the topics' max.message.bytes and the setting together.
      const bigTopics = await createTestTopics();
      const admin = testKafka().admin();
      await admin.connect();
      try {
        await admin.alterConfigs({
          validateOnly: false,
          resources: [TOPICS.deliveries.name, TOPICS.events.name].map((topic) => ({
            type: 2, // TOPIC
            name: bigTopics.physical(topic),
            configEntries: [{ name: 'max.message.bytes', value: String(2 * 1024 * 1024) }],
          })),
        });
      } finally {
        await admin.disconnect();
      }
      const raised = await startIngest({
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: bigTopics.prefix,
        KAFKA_MAX_MESSAGE_BYTES: String(2 * 1024 * 1024),
        INGEST_MAX_BODY_BYTES: '1500000',
      });
      const bigRaw = await new TopicRecorder([bigTopics.physical(TOPICS.deliveries.name)], rawValue).start();
      try {
        const body = JSON.stringify({ events: [event('1230', 'notes')], note: 'x'.repeat(1_200_000) });

        const response = await deliver(raised, active, body);

        expect(response.status).toBe(200);
        const deliveryId = (response.body as { deliveryId: string }).deliveryId;
        const [stored] = await waitFor('the raw delivery', () => {
          const found = bigRaw.find(bigTopics.physical(TOPICS.deliveries.name), 'deliveryId', deliveryId);
          return found.length > 0 ? found : undefined;
        });
        expect(Buffer.compare(stored.value, Buffer.from(body))).toBe(0);
      } finally {
        await bigRaw.stop();
        await raised.close();
      }
    });

    it('with the setting above what the broker takes, the delivery is answered 413, not 503, and its raw record is not stored', async () => {
      // Settings claiming a broker that takes 2 MiB messages; the topics take 1 MiB. The publisher
      // sends it, the broker refuses the raw record's batch: sending it again cannot help. (Its
      // small event may be written: the broker takes a request's other batches. Keep the setting
      // equal to the topics' max.message.bytes.)
      const misconfigured = await startIngest({
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: names.prefix,
        KAFKA_MAX_MESSAGE_BYTES: String(2 * 1024 * 1024),
        INGEST_MAX_BODY_BYTES: '1500000',
      });
      try {
        const body = JSON.stringify({ events: [event('1220', 'notes')], note: 'x'.repeat(1_200_000) });
        const before = await offsets();

        const response = await deliver(misconfigured, active, body);

        expect(response.status).toBe(413);
        expect(response.body).toEqual({
          error: 'MESSAGE_TOO_LARGE',
          message: 'Kafka refused the delivery as too large',
        });
        expect((await offsets()).deliveries).toBe(before.deliveries);
      } finally {
        await misconfigured.close();
      }
    });
  });

  describe('a delivery Kafka does not acknowledge', () => {
    it('is answered 503 within the request timeout, not 200, so Asana retries it', async () => {
      // Topics that do not exist under this prefix: kafkajs retries its metadata until the deadline.
      const unready = await startIngest({
        DATABASE_URL: db.url,
        KAFKA_TOPIC_PREFIX: `${names.prefix}missing.`,
        INGEST_REQUEST_TIMEOUT_MS: '2000',
      });
      try {
        const started = Date.now();

        const response = await deliver(unready, active, deliveryBody(event('1210', 'name')));

        expect(response.status).toBe(503);
        expect(response.body).toEqual({
          error: 'KAFKA_UNAVAILABLE',
          message: 'the delivery could not be stored; retry later',
        });
        expect(Date.now() - started).toBeLessThan(2000);
      } finally {
        await unready.close();
      }
    });
  });

  describe('a signed body that is not a delivery', () => {
    /** Delivers `body`, expects 400 with a reason matching `reason`, and returns the quarantined record. */
    const expectQuarantined = async (body: Buffer | string, reason: RegExp) => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const before = await offsets();

      const response = await deliver(app, active, bytes);

      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: 'MALFORMED_DELIVERY', message: expect.stringMatching(reason) });
      // Read at once: the answer came after the quarantine topic acknowledged.
      expect(await offsets()).toEqual({ ...before, quarantine: before.quarantine + 1 });
      const signature = signAsanaBody(SECRET, bytes);
      const [record] = await waitFor(
        'the quarantined body',
        () =>
          raw.find(quarantineTopic, 'x-hook-signature', signature).length > 0 &&
          raw.find(quarantineTopic, 'x-hook-signature', signature),
      );
      expect(record.key).toBe(active);
      expect(record.value.equals(bytes)).toBe(true);
      expect(record.headers).toMatchObject({ subscriptionId: active, reason: response.body.message });
      return record;
    };

    it('nested 100,000 levels deep is answered 400, not 500, and its bytes are quarantined', async () => {
      const body = `{"events":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`;

      await expectQuarantined(
        body,
        new RegExp(`^the body nests objects or arrays deeper than ${MAX_DELIVERY_DEPTH} levels$`),
      );
    });

    it('in invalid UTF-8 is answered 400 and quarantined byte for byte', async () => {
      const body = Buffer.concat([
        Buffer.from('{"events":[],"note":"'),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from('"}'),
      ]);

      await expectQuarantined(body, /^the body is not valid UTF-8$/);
    });

    it('that is JSON but not a delivery is answered 400 naming what is missing, and quarantined', async () => {
      await expectQuarantined('{"hello":"world"}', /^the body is not an Asana delivery: events: is required$/);
    });

    it('that is not JSON is answered 400 and quarantined', async () => {
      await expectQuarantined('{"events":[', /^the body is not acceptable JSON \(it ends early\)$/);
    });

    it('with a __proto__ key is answered 400 and quarantined, and publishes no event', async () => {
      await expectQuarantined(
        `{"events":[],"__proto__":{"polluted":true}}`,
        /forbidden "__proto__" or "constructor.prototype" key/,
      );
    });

    it('is not quarantined when it is not signed: 401, and nothing is kept', async () => {
      const body = `{"events":[${'['.repeat(1000)}`;
      const before = await offsets();

      const unsigned = await deliver(app, active, body, { signature: null });
      const forged = await deliver(app, active, body, {
        signature: signAsanaBody('another-secret-of-32-characters!', body),
      });

      expect([unsigned.status, forged.status]).toEqual([401, 401]);
      expect(await offsets()).toEqual(before);
    });
  });

  describe('a delivery that must not be accepted', () => {
    it('answers 401 to a bad signature and publishes nothing', async () => {
      const body = deliveryBody(event('1207', 'name'));
      const good = signAsanaBody(SECRET, body);
      const before = await offsets();

      const statuses = [
        (await deliver(app, active, body, { signature: good.replace(/^./, (c) => (c === '0' ? '1' : '0')) })).status,
        (await deliver(app, active, body, { signature: `${good}00` })).status,
        (await deliver(app, active, body, { signature: good.toUpperCase() })).status,
        (await deliver(app, active, body, { signature: signAsanaBody('another-secret-of-32-characters!', body) }))
          .status,
        (await deliver(app, active, body, { signature: null })).status,
        (await deliver(app, active, `${body} `, { signature: good })).status,
      ];

      expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
      expect(await offsets()).toEqual(before);
      // Publishes go through one queue in order: once a later delivery is acknowledged, anything
      // the rejected ones had queued would be in Kafka too.
      await deliver(app, active, deliveryBody(event('1208', 'name'))).expect(200);
      expect(await offsets()).toEqual({ ...before, events: before.events + 1, deliveries: before.deliveries + 1 });
    });

    it('answers 400 to a subscription id that is not a UUID', async () => {
      const response = await deliver(app, 'not-a-uuid', deliveryBody(event('1209', 'name')));

      expect(response.status).toBe(400);
    });
  });

  describe('a heartbeat', () => {
    it('is answered 200, publishes only the raw delivery and records the heartbeat', async () => {
      const id = await addSubscription(sql);
      expect((await subscription(id)).last_heartbeat_at).toBeNull();
      const before = await offsets();

      const response = await deliver(app, id, '{"events":[]}');

      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ eventCount: 0 });
      expect(await offsets()).toEqual({ ...before, deliveries: before.deliveries + 1 });
      // Written after the answer: the delivery is durable whether or not the contact time is.
      await waitFor('the heartbeat time', async () => (await subscription(id)).last_heartbeat_at instanceof Date);
    });
  });
});
