import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { createDataSource } from '@asana-stream/db';
import { createTestDatabase, type TestDatabase } from '@asana-stream/testing';
import { ResyncRepository } from './resync.repository';

/**
 * The resync's claim and finish on the real server, around the requests that race them: a
 * request runs the resync once, and again only when it came during the run. Every extra run lists
 * a whole resource through the token's one API budget.
 */
describe('ResyncRepository claim and finish (real Postgres)', () => {
  const LEASE_MS = 60_000;
  const FULL_INTERVAL_MS = 3_600_000;
  let db: TestDatabase;
  let dataSource: DataSource;
  let resyncs: ResyncRepository;
  let nextGid = 1_500_000;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = createDataSource(db.url, 4);
    await dataSource.initialize();
    resyncs = new ResyncRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  // Each test on its own resources: a request one leaves behind is not claimed by the next.
  afterEach(async () => {
    await dataSource.query(`DELETE FROM event_streams`);
    await dataSource.query(`DELETE FROM subscriptions`);
  });

  /** A resource an active subscription watches, with its event stream row and no resync asked for. */
  const watched = async (): Promise<string> => {
    const gid = String(nextGid++);
    await dataSource.query(
      `INSERT INTO subscriptions (id, resource_gid, target_url, status, secret) VALUES ($1, $2, 'http://ingest/x', 'active', 's')`,
      [randomUUID(), gid],
    );
    await dataSource.query(`INSERT INTO event_streams (resource_gid) VALUES ($1)`, [gid]);
    return gid;
  };

  const request = async (gid: string): Promise<{ resync_requested_at: Date | null; resync_reason: string | null }> =>
    (
      await dataSource.query<{ resync_requested_at: Date | null; resync_reason: string | null }[]>(
        `SELECT resync_requested_at, resync_reason FROM event_streams WHERE resource_gid = $1`,
        [gid],
      )
    )[0];

  it('runs once for a request committed after the claim’s transaction began but before it read the row', async () => {
    const gid = await watched();
    const inTransaction = dataSource.createQueryRunner();
    await inTransaction.connect();
    try {
      // The claim's transaction begins (its now() is fixed here) ...
      await inTransaction.startTransaction();
      await inTransaction.query('SELECT now()');
      await sleep(20);
      // ... a request commits on another connection ...
      await resyncs.request(gid, 'asked just before the claim');
      // ... and the claim's statement, its snapshot taken after that, sees and answers it.
      const claimed = await new ResyncRepository(inTransaction.manager).claim(LEASE_MS, 'holder-a');
      await inTransaction.commitTransaction();
      expect(claimed).toMatchObject({ resourceGid: gid, reason: 'asked just before the claim' });
    } finally {
      await inTransaction.release();
    }

    expect(await resyncs.finish(gid, 'holder-a', 0, FULL_INTERVAL_MS)).toBe(true);
    expect(await request(gid)).toEqual({ resync_requested_at: null, resync_reason: null });
    expect(await resyncs.claim(LEASE_MS, 'holder-b')).toBeNull();
  });

  it('runs again for a request made while it ran, with that request’s reason', async () => {
    const gid = await watched();
    await resyncs.request(gid, 'the first request');
    expect(await resyncs.claim(LEASE_MS, 'holder-a')).toMatchObject({ resourceGid: gid, reason: 'the first request' });
    await sleep(20);
    await resyncs.request(gid, 'asked during the run');
    expect(await resyncs.finish(gid, 'holder-a', 0, FULL_INTERVAL_MS)).toBe(true);
    expect(await request(gid)).toMatchObject({ resync_reason: 'asked during the run' });
    expect(await resyncs.claim(LEASE_MS, 'holder-b')).toMatchObject({
      resourceGid: gid,
      reason: 'asked during the run',
    });
    expect(await resyncs.finish(gid, 'holder-b', 0, FULL_INTERVAL_MS)).toBe(true);
    expect(await request(gid)).toEqual({ resync_requested_at: null, resync_reason: null });
  });
});
