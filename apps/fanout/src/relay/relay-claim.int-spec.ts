import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { Client, Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { loadAppConfig, type FanoutConfig } from '@asana-stream/config';
import { changeTopic, type ResourceChangeMessage, type TopicNames } from '@asana-stream/contracts';
import { createDataSource, OUTBOX_CHANNEL } from '@asana-stream/db';
import { AsanaStreamError } from '@asana-stream/errors';
import { KafkaPublisher } from '@asana-stream/kafka';
import {
  createTestDatabase,
  createTestTopics,
  testKafka,
  totalEndOffset,
  TopicRecorder,
  waitFor,
  type TestDatabase,
} from '@asana-stream/testing';
import { PgNotifications } from '../notifications/pg-notifications';
import {
  CLAIM_WINDOW_BATCHES,
  RELAY_GID_LOCK_NAMESPACE,
  RelayOutboxService,
  type RelayRound,
} from './relay-outbox.service';

/**
 * Several relay replicas on one backlog: a replica that finds the head of the outbox locked claims
 * the next gids (`relay_claim_gids`), so replicas publish side by side, while a gid's rows still
 * go through one replica at a time, in id order, and parked gids stay out.
 */

let nextGid = 1_400_000;
const freshGid = (): string => String(nextGid++);

type Publish = KafkaPublisher['publish'];
type TopicMessages = Parameters<Publish>[0];

/** The outbox ids (change ids) a publish call carries. */
const idsOf = (topicMessages: TopicMessages): string[] =>
  topicMessages.flatMap((t) => t.messages.map((m) => (JSON.parse(String(m.value)) as { changeId: string }).changeId));

/**
 * Publish calls across the instrumented publishers that share it: how many are in flight, the
 * most at once, and how many started while another was in flight.
 */
interface InFlight {
  inFlight: number;
  maxInFlight: number;
  started: number;
  startedAlongside: number;
}
const inFlightCounter = (): InFlight => ({ inFlight: 0, maxInFlight: 0, started: 0, startedAlongside: 0 });

/**
 * A publisher that records what it sent, counts its calls in `counter`, and, when gated, holds
 * every call until released, so a relay transaction can be kept open. `delayMs` stands for Kafka's latency; `failEvery` makes every n-th call fail before
 * sending anything, as an unavailable broker would (the relay's transaction rolls back).
 */
function instrumented(
  inner: KafkaPublisher,
  options: { gated?: boolean; delayMs?: number; failEvery?: number } = {},
  counter: InFlight = inFlightCounter(),
) {
  let release!: () => void;
  let entered!: () => void;
  const gate = options.gated ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
  const reached = new Promise<void>((resolve) => (entered = resolve));
  const state = { sent: [] as string[][], calls: 0, failed: 0 };
  const publish = async (topicMessages: TopicMessages) => {
    state.calls++;
    if (options.failEvery && state.calls % options.failEvery === 0) {
      state.failed++;
      throw new AsanaStreamError('KAFKA_UNAVAILABLE', 'the test broker is unavailable for this call');
    }
    counter.started++;
    if (counter.inFlight > 0) counter.startedAlongside++;
    counter.inFlight++;
    counter.maxInFlight = Math.max(counter.maxInFlight, counter.inFlight);
    try {
      entered();
      await gate;
      if (options.delayMs) await sleep(options.delayMs);
      await inner.publish(topicMessages);
      state.sent.push(idsOf(topicMessages));
    } finally {
      counter.inFlight--;
    }
  };
  return { publisher: { publish } as unknown as KafkaPublisher, reached, release: () => release(), state };
}

describe('relay replicas claiming one backlog side by side (real database and broker)', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let config: FanoutConfig;
  /** Three replicas of the fanout app, each with its own pool. */
  let dataSources: DataSource[];
  let publisher: KafkaPublisher;
  let notifications: PgNotifications;
  let recorder: TopicRecorder;
  /** The test's own queries (a pool: the replicas' loops ask at once). */
  let sql: Pool;
  let taskTopic: string;

  /** The fanout's settings for this test's database and topics, polling only once a minute. */
  const fanoutConfig = (settings: Record<string, string> = {}) =>
    loadAppConfig('fanout', {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: names.prefix,
      FANOUT_POLL_INTERVAL_MS: '60000',
      ...settings,
    });
  const relay = (replica: number, pub: KafkaPublisher = publisher) =>
    new RelayOutboxService(dataSources[replica], pub, names, config, notifications);

  /** `versions` rows for each gid, inserted version by version (the gids' rows interleave); ids in insert order. */
  const insertBacklog = async (gids: string[], versions: number): Promise<string[]> => {
    const rows: [string, number][] = [];
    for (let version = 1; version <= versions; version++) for (const gid of gids) rows.push([gid, version]);
    const { rows: inserted } = await sql.query<{ id: string }>(
      /* sql */ `INSERT INTO outbox (gid, type, change)
                 SELECT r.gid, 'task', jsonb_build_object('schema', 1, 'gid', r.gid, 'type', 'task',
                          'action', CASE WHEN r.version = 1 THEN 'created' ELSE 'updated' END, 'version', r.version,
                          'changes', '{}'::jsonb, 'state', jsonb_build_object('gid', r.gid, 'name', 'v' || r.version),
                          'causes', jsonb_build_array('event-' || r.gid || '-' || r.version),
                          'occurredAt', '2026-11-22T10:00:00.000Z')
                 FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS r(gid, version, n)
                 ORDER BY r.n
                 RETURNING id`,
      [rows.map(([gid]) => gid), rows.map(([, version]) => version)],
    );
    return inserted.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
  };
  const gidOf = new Map<string, string>();
  const backlog = async (count: number, versions: number) => {
    const gids = Array.from({ length: count }, freshGid);
    const ids = await insertBacklog(gids, versions);
    ids.forEach((id, i) => gidOf.set(id, gids[i % count]));
    /** The ids of `gid`'s rows, in id order. */
    const idsOfGid = (gid: string) => ids.filter((id) => gidOf.get(id) === gid);
    return { gids, ids, idsOfGid };
  };
  const rowsOf = async (ids: string[]) => {
    const { rows } = await sql.query<{ id: string; gid: string; published: boolean; position: string | null }>(
      /* sql */ `SELECT id, gid, published_at IS NOT NULL AS published, feed_position AS position
                 FROM outbox WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [ids],
    );
    return rows;
  };
  const publishedOf = async (ids: string[]) => (await rowsOf(ids)).filter((r) => r.published).map((r) => r.id);
  const unpublishedLeft = async (): Promise<number> => {
    const { rows } = await sql.query<{
      n: number;
    }>(/* sql */ `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL AND parked_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.gid = outbox.gid AND p.parked_at IS NOT NULL
                                 AND p.published_at IS NULL)`);
    return rows[0].n;
  };
  /** Change ids of `gid` as they are on the task topic, in offset order (a gid keeps one partition). */
  const onTopic = (gid: string): string[] =>
    recorder.messages
      .filter((m) => m.key === gid)
      .sort((a, b) => Number(a.offset) - Number(b.offset))
      .map((m) => (m.value as ResourceChangeMessage).changeId);
  /** Feed positions of the ids, in id order. */
  const positionsOf = async (ids: string[]): Promise<number[]> =>
    (await rowsOf(ids)).map((r) => (r.position === null ? NaN : Number(r.position)));
  /** Positions are consecutive in id order: one MARK_PUBLISHED gave them. */
  const expectOneBlock = (positions: number[]) => expect(positions).toEqual(positions.map((_, i) => positions[0] + i));

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    [db, names] = await Promise.all([createTestDatabase(), createTestTopics()]);
    config = fanoutConfig();
    taskTopic = names.physical(changeTopic('task').name);
    dataSources = [0, 1, 2].map(() => createDataSource(db.url, 4));
    await Promise.all(dataSources.map((ds) => ds.initialize()));
    publisher = new KafkaPublisher(testKafka('relay-claim-int'));
    await publisher.onModuleInit();
    sql = new Pool({ connectionString: db.url, max: 4 });
    notifications = new PgNotifications(db.url);
    recorder = await new TopicRecorder([taskTopic]).start();
  });

  afterAll(async () => {
    await recorder?.stop();
    await sql?.end();
    await notifications?.stop();
    await publisher?.onApplicationShutdown();
    await Promise.all((dataSources ?? []).map((ds) => ds.destroy()));
    await db?.drop();
  });

  afterEach(async () => {
    // Each test starts on an empty outbox (parked rows of a test are its own to leave).
    await sql.query(/* sql */ `DELETE FROM outbox`);
  });

  it('claims the next gids while other replicas’ transactions hold the head, and publishes them at once', async () => {
    const batch = 50;
    const { gids, ids, idsOfGid } = await backlog(150, 3);
    const v1 = (from: number, to: number) => gids.slice(from, to).map((gid) => idsOfGid(gid)[0]);
    const a = instrumented(publisher, { gated: true });
    const b = instrumented(publisher, { gated: true });
    const c = instrumented(publisher);
    const [relayA, relayB, relayC] = [relay(0, a.publisher), relay(1, b.publisher), relay(2, c.publisher)];

    // A holds the head (the first 50 gids' first rows) in an open transaction, B the next 50 gids.
    const released = () => (a.release(), b.release());
    const roundA = relayA.relayRound(batch);
    await a.reached;
    const roundB = relayB.relayRound(batch);
    await Promise.race([
      b.reached,
      roundB.then((round) => {
        released();
        throw new Error(`B claimed ${round.claimed} rows while A held the head`);
      }),
    ]);
    // C finds both held and claims the 50 gids after them: published and committed while A and B are open.
    await expect(relayC.relayRound(batch)).resolves.toMatchObject({ claimed: batch, published: batch });
    expect(c.state.sent).toEqual([v1(100, 150)]);
    expect(await publishedOf(ids)).toEqual(v1(100, 150));

    // A claim walks 4 batches (200 unpublished rows) at most: now A's and B's gids' first and
    // second rows, all held, so C claims nothing (without an error) though its own gids' second
    // rows wait further on: the claim never scans the whole backlog.
    expect(CLAIM_WINDOW_BATCHES).toBe(4);
    await expect(relayC.relayRound(batch)).resolves.toEqual({ claimed: 0, published: 0, failed: 0, parked: 0 });

    // A and B commit, A first; each published its own 50 gids, and C saw none of their rows.
    a.release();
    await expect(roundA).resolves.toMatchObject({ claimed: batch, published: batch });
    b.release();
    await expect(roundB).resolves.toMatchObject({ claimed: batch, published: batch });
    expect(a.state.sent).toEqual([v1(0, 50)]);
    expect(b.state.sent).toEqual([v1(50, 100)]);

    // Feed positions in commit order: C's block, then A's, then B's (each one block, in id order).
    const [posA, posB, posC] = await Promise.all([
      positionsOf(v1(0, 50)),
      positionsOf(v1(50, 100)),
      positionsOf(v1(100, 150)),
    ]);
    for (const positions of [posA, posB, posC]) expectOneBlock(positions);
    expect(posC[49]).toBeLessThan(posA[0]);
    expect(posA[49]).toBeLessThan(posB[0]);

    // The rest by the three at once: every row exactly once, in order per gid on the topic.
    const before = await totalEndOffset(testKafka(), [taskTopic]);
    const rest = await Promise.all([relayA, relayB, relayC].map((r) => drainAlongside(r, batch)));
    expect(rest.reduce((sum, n) => sum + n, 0)).toBe(ids.length - 150);
    expect(await publishedOf(ids)).toEqual(ids);
    expect(await totalEndOffset(testKafka(), [taskTopic])).toBe(before + ids.length - 150);
    await waitFor('every row on the task topic', () => gids.every((gid) => onTopic(gid).length >= 3));
    for (const gid of gids) expect(onTopic(gid)).toEqual(idsOfGid(gid));
    await expectFeedInGidOrder(ids);
  });

  it('lets three replicas drain a backlog side by side: each a share, publishes in flight at once, each row once, order per gid kept', async () => {
    const batch = 20;
    const { gids, ids, idsOfGid } = await backlog(120, 5);
    // Kafka's latency stands in as 40 ms a publish; C's every third publish fails before sending
    // (an unavailable broker): its transaction rolls back and its gids go to whoever claims them next.
    const counter = inFlightCounter();
    const pubs = [
      instrumented(publisher, { delayMs: 40 }, counter),
      instrumented(publisher, { delayMs: 40 }, counter),
      instrumented(publisher, { delayMs: 40, failEvery: 3 }, counter),
    ];
    const relays = pubs.map((p, replica) => relay(replica, p.publisher));
    const before = await totalEndOffset(testKafka(), [taskTopic]);

    const rounds = await Promise.all(relays.map((r) => roundsUntilDrained(r, batch)));

    const publishedBy = rounds.map((rs) => rs.reduce((sum, r) => sum + r.published, 0));
    expect(publishedBy.reduce((sum, n) => sum + n, 0)).toBe(ids.length);
    // Each replica a substantial share (C's failures cost it some), and side by side: most
    // publishes started while another replica's was in flight (taking turns on the head, hardly any).
    for (const n of publishedBy) expect(n).toBeGreaterThanOrEqual(ids.length / 10);
    expect(pubs[2].state.failed).toBeGreaterThan(0);
    expect(counter.maxInFlight).toBeGreaterThanOrEqual(2);
    expect(counter.startedAlongside).toBeGreaterThanOrEqual(counter.started / 2);
    // What was sent is what the committed rounds marked: nothing twice (failures sent nothing).
    const sent = pubs.flatMap((p) => p.state.sent);
    expect(sent.flat().sort((x, y) => Number(x) - Number(y))).toEqual(ids);
    expect(await publishedOf(ids)).toEqual(ids);
    expect(await totalEndOffset(testKafka(), [taskTopic])).toBe(before + ids.length);
    await waitFor('every row on the task topic', () => gids.every((gid) => onTopic(gid).length >= 5));
    for (const gid of gids) expect(onTopic(gid)).toEqual(idsOfGid(gid));
    // Each committed publish got one block of feed positions, in id order, and the feed keeps each gid's order.
    for (const call of sent) expectOneBlock(await positionsOf(call));
    await expectFeedInGidOrder(ids);
    process.stdout.write(
      `relay-claim: rows published per replica ${publishedBy.join(', ')}; publishes in flight at most ${counter.maxInFlight}; ` +
        `${counter.startedAlongside} of ${counter.started} publishes started while another was in flight\n`,
    );
  });

  it('walks past a locked head without claiming a parked gid, and leaves the parked gid out once the head is free', async () => {
    const batch = 4;
    const head = await backlog(4, 1);
    const parkedGid = freshGid();
    const { rows: parkedRows } = await sql.query<{ id: string }>(
      /* sql */ `INSERT INTO outbox (gid, type, change, attempts, last_error, parked_at)
                 VALUES ($1, 'task', '{"schema":1}', 1, 'MESSAGE_TOO_LARGE: test', now()) RETURNING id`,
      [parkedGid],
    );
    const behindParked = await insertBacklog([parkedGid, parkedGid], 1);
    const others = await backlog(3, 2);
    const holder = await holdLocks(head.gids);
    const relayA = relay(0);
    try {
      // The head is held (as by another replica): this replica claims the gids after it, never the parked gid's rows.
      expect(await claimedGids(batch)).toEqual(others.gids.sort());
      await expect(relayA.relayRound(batch)).resolves.toMatchObject({ claimed: batch, published: batch });
      expect(await publishedOf([...head.ids, parkedRows[0].id, ...behindParked])).toEqual([]);
    } finally {
      await holder.end();
    }
    // Free again, the head goes next; the parked gid waits behind its parked row.
    expect(await drainAlongside(relayA, batch)).toBe(head.ids.length + others.ids.length - batch);
    expect(await publishedOf(head.ids)).toEqual(head.ids);
    expect(await publishedOf(others.ids)).toEqual(others.ids);
    expect(await publishedOf([parkedRows[0].id, ...behindParked])).toEqual([]);
    expect(await claimedGids(batch)).toEqual([]);
  });

  it('claims nothing, without an error, when every candidate gid is locked, and everything once they are free', async () => {
    const { gids, ids } = await backlog(6, 2);
    const holder = await holdLocks(gids);
    try {
      expect(await claimedGids(5)).toEqual([]);
      await expect(relay(1).relayRound(5)).resolves.toEqual({ claimed: 0, published: 0, failed: 0, parked: 0 });
      expect(await publishedOf(ids)).toEqual([]);
    } finally {
      await holder.end();
    }
    expect(await drainAlongside(relay(1), 5)).toBe(ids.length);
    expect(await publishedOf(ids)).toEqual(ids);
  });

  it('walks only a slice of a burst whatever the statistics say (analysed while everything was published)', async () => {
    // A running installation's statistics: analysed with every row published, so the planner
    // expects next to no unpublished rows. Then a burst of 10,000 rows of 1,000 gids, not analysed.
    const old = await backlog(200, 5);
    await sql.query(/* sql */ `UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [old.ids]);
    await sql.query(/* sql */ `ANALYZE outbox`);
    const burst = await backlog(1000, 10);
    const batch = 500;
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: Record<string, number> }] }>(
        /* sql */ `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM relay_claim_gids($1, $2, $3)`,
        [batch, RELAY_GID_LOCK_NAMESPACE, batch * CLAIM_WINDOW_BATCHES],
      );
      await client.query('ROLLBACK');
      const plan = rows[0]['QUERY PLAN'][0].Plan;
      // The first 500 rows are the first rows of 500 gids: one slice, all claimed.
      expect(plan['Actual Rows']).toBe(batch);
      // Pages touched, the function's own statements included: a slice's index entries and rows
      // (about 600), not the burst's 10,000 rows (a scan of them all touched over 20,000).
      const pages = plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
      expect(pages).toBeLessThan(4 * batch);
    } finally {
      await client.end();
    }
    expect(burst.ids).toHaveLength(10_000);
  });

  it('skips a parked gid’s rows at the head without counting them toward the window', async () => {
    const batch = 10;
    const parkedGid = freshGid();
    await sql.query(
      /* sql */ `INSERT INTO outbox (gid, type, change, attempts, last_error, parked_at)
                 VALUES ($1, 'task', '{"schema":1}', 1, 'MESSAGE_TOO_LARGE: test', now())`,
      [parkedGid],
    );
    // Ten windows' worth of rows behind the parked one, then other gids' rows.
    await insertBacklog(
      Array.from({ length: 10 * batch * CLAIM_WINDOW_BATCHES }, () => parkedGid),
      1,
    );
    const others = await backlog(batch, 1);
    expect(await claimedGids(batch)).toEqual([...others.gids].sort());
    await expect(relay(0).relayRound(batch)).resolves.toMatchObject({ claimed: batch, published: batch });
    expect(await publishedOf(others.ids)).toEqual(others.ids);
  });

  it('drains a backlog with helper loops beside the leader (FANOUT_RELAY_CONCURRENCY), and only the leader claims at a trickle', async () => {
    const own = fanoutConfig({ FANOUT_BATCH_SIZE: '20', FANOUT_RELAY_CONCURRENCY: '3' });
    const counter = inFlightCounter();
    const pub = instrumented(publisher, { delayMs: 40 }, counter);
    const service = new RelayOutboxService(dataSources[0], pub.publisher, names, own, notifications);
    const rounds = jest.spyOn(service, 'relayRound');
    const { gids, ids, idsOfGid } = await backlog(100, 6);
    await service.onApplicationBootstrap();
    let stopped = false;
    try {
      await waitFor('the backlog published', async () => (await publishedOf(ids)).length === ids.length, {
        timeoutMs: 30_000,
      });
      // The helpers joined the leader: publishes overlapped, each row went once, each gid in order.
      expect(counter.maxInFlight).toBeGreaterThanOrEqual(2);
      expect(pub.state.sent.flat().sort((x, y) => Number(x) - Number(y))).toEqual(ids);
      await waitFor('every row on the task topic', () => gids.every((gid) => onTopic(gid).length >= 6));
      for (const gid of gids) expect(onTopic(gid)).toEqual(idsOfGid(gid));
      await expectFeedInGidOrder(ids);

      // A trickle: one row and its NOTIFY cost one round (the leader's), not one per loop.
      await sleep(200);
      const roundsBefore = rounds.mock.calls.length;
      const single = await backlog(1, 1);
      await sql.query(/* sql */ `SELECT pg_notify($1, '')`, [OUTBOX_CHANNEL]);
      await waitFor('the single row published', async () => (await publishedOf(single.ids)).length === 1);
      await sleep(200);
      expect(rounds.mock.calls.length - roundsBefore).toBe(1);

      const stopStarted = Date.now();
      await service.onModuleDestroy();
      stopped = true;
      expect(Date.now() - stopStarted).toBeLessThan(5000);
    } finally {
      if (!stopped) await service.onModuleDestroy();
    }
  });

  /** Relay rounds until no claimable row is left (claiming nothing while others hold gids is no end). */
  async function roundsUntilDrained(r: RelayOutboxService, limit: number): Promise<RelayRound[]> {
    const rounds: RelayRound[] = [];
    for (let i = 0; i < 2000; i++) {
      const round = await r.relayRound(limit).catch(() => undefined);
      if (round) rounds.push(round);
      if (round && round.claimed > 0) continue;
      if ((await unpublishedLeft()) === 0) return rounds;
      await sleep(5);
    }
    throw new Error('the backlog did not drain');
  }

  async function drainAlongside(r: RelayOutboxService, limit: number): Promise<number> {
    return (await roundsUntilDrained(r, limit)).reduce((sum, round) => sum + round.published, 0);
  }

  /** Every position distinct, and each gid's positions grow with its ids. */
  async function expectFeedInGidOrder(ids: string[]): Promise<void> {
    const rows = await rowsOf(ids);
    expect(new Set(rows.map((r) => r.position)).size).toBe(rows.length);
    const last = new Map<string, number>();
    for (const row of rows) {
      const position = Number(row.position);
      expect(position).toBeGreaterThan(last.get(row.gid) ?? 0);
      last.set(row.gid, position);
    }
  }

  /** The gids a claim would lock now (in a transaction rolled back at once), sorted. */
  async function claimedGids(batch: number): Promise<string[]> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ gid: string }>(
        /* sql */ `SELECT DISTINCT c.gid FROM relay_claim_gids($1, $2, $3) AS c(gid) ORDER BY 1`,
        [batch, RELAY_GID_LOCK_NAMESPACE, batch * CLAIM_WINDOW_BATCHES],
      );
      await client.query('ROLLBACK');
      return rows.map((r) => r.gid);
    } finally {
      await client.end();
    }
  }

  /** A connection holding the relay locks of the gids in an open transaction, as another replica would. */
  async function holdLocks(gids: string[]): Promise<Client> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    await client.query('BEGIN');
    await client.query(/* sql */ `SELECT pg_advisory_xact_lock($1, hashtext(g)) FROM unnest($2::text[]) AS g`, [
      RELAY_GID_LOCK_NAMESPACE,
      gids,
    ]);
    return client;
  }
});
