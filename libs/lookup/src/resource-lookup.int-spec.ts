import type { Admin } from 'kafkajs';
import { Client } from 'pg';
import { deadLetterTopic, TOPICS, type TopicNames } from '@asana-stream/contracts';
import {
  createTestDatabase,
  createTestTopics,
  seedLookupFixture,
  testKafka,
  uniqueGid,
  type LookupFixture,
  type TestDatabase,
} from '@asana-stream/testing';
import { DEFAULT_LOOKUP_LIMITS, gidProblem, lookupResource, type LookupDatabase } from './resource-lookup';

describe('lookupResource: one gid, everywhere asana-stream keeps it (real Kafka and Postgres)', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let pg: Client;
  let admin: Admin;
  let fixture: LookupFixture;
  const kafka = testKafka();

  const sources = () => {
    const database: LookupDatabase = {
      query: async <T>(sql: string, parameters?: unknown[]) => (await pg.query(sql, parameters)).rows as T,
    };
    return { db: database, kafka, admin, names };
  };

  beforeAll(async () => {
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    pg = new Client({ connectionString: db.url });
    admin = kafka.admin();
    await Promise.all([pg.connect(), admin.connect()]);
    fixture = await seedLookupFixture(db, names);
  });

  afterAll(async () => {
    await Promise.allSettled([pg?.end(), admin?.disconnect()]);
    await db?.drop();
  });

  it('lists the projection row, every outbox change with its state, both dead letters and every event with its trace', async () => {
    const lookup = await lookupResource(sources(), fixture.gid);

    expect(lookup.found).toBe(true);
    expect(lookup.projections).toEqual([
      {
        table: 'tasks',
        type: 'task',
        version: 1_764_000_000_000,
        deletedAt: null,
        updatedAt: expect.any(String),
        state: { gid: fixture.gid, resource_type: 'task', name: 'Fixture task' },
      },
    ]);
    expect(lookup.outbox.total).toBe(3);
    expect(lookup.outbox.rows.map((r) => [r.id, r.state, r.version, r.fields, r.traceId])).toEqual([
      [fixture.outbox.published, 'published', 1, ['name'], fixture.outboxTraceId],
      [fixture.outbox.parked, 'parked', 2, ['name'], fixture.outboxTraceId],
      [fixture.outbox.pending, 'pending', 3, ['name'], fixture.outboxTraceId],
    ]);
    expect(lookup.outbox.rows[1]).toMatchObject({ attempts: 1, lastError: 'MESSAGE_TOO_LARGE: refused' });

    expect(lookup.deadLetters.entries.map((d) => [d.topic, d.code, d.pending, d.traceId, d.attempts])).toEqual(
      fixture.deadLetters.map((d) => [d.topic, d.code, true, d.traceId, 1]),
    );
    expect(lookup.deadLetters.entries[0].source).toBe(`${names.physical(TOPICS.events.name)}/0/7`);

    expect(
      lookup.events.entries.map((e) => [
        e.eventId,
        e.field,
        e.action,
        e.source,
        e.subscriptionId,
        e.deliveryId,
        e.traceId,
      ]),
    ).toEqual(
      fixture.events.map((e) => [e.eventId, e.field, 'changed', 'webhook', e.subscriptionId, e.deliveryId, e.traceId]),
    );
    // The gid's partition, read whole: the other gids' events on it are left out, not missed.
    expect(lookup.events.scanned).toMatchObject({ topic: TOPICS.events.name, fromEarliest: true, complete: true });
    expect(new Set(lookup.events.entries.map((e) => e.partition))).toEqual(new Set([lookup.events.scanned.partition]));
    expect(lookup.deadLetters.scanned.map((s) => s.topic)).toEqual([
      deadLetterTopic(TOPICS.events.name).name,
      deadLetterTopic(TOPICS.state.name).name,
    ]);
  });

  it('reads only the last maxMessages of the partition, and says so', async () => {
    const lookup = await lookupResource(sources(), fixture.gid, { ...DEFAULT_LOOKUP_LIMITS, maxMessages: 2 });

    const { scanned } = lookup.events;
    expect(scanned.to - scanned.from).toBe(2);
    expect(scanned.fromEarliest).toBe(false);
    expect(lookup.events.entries.every((e) => Number(e.offset) >= scanned.from)).toBe(true);
    expect(lookup.events.entries.length).toBeLessThan(fixture.events.length);
  });

  it('answers found: false for a gid nothing knows, having read the same places', async () => {
    const gid = uniqueGid();
    const lookup = await lookupResource(sources(), gid);

    expect(lookup).toMatchObject({
      gid,
      found: false,
      projections: [],
      outbox: { total: 0, rows: [] },
      deadLetters: { entries: [] },
      events: { entries: [] },
    });
    expect(lookup.events.scanned.complete).toBe(true);
  });

  it('refuses what cannot be a gid before reading anything', async () => {
    expect(gidProblem('12x')).toBe('"12x" is not an Asana gid: a gid is a string of digits, e.g. 1208000000000001');
    expect(gidProblem(fixture.gid)).toBeUndefined();
    await expect(lookupResource(sources(), "1' OR 1=1")).rejects.toThrow(/is not an Asana gid/);
  });
});
