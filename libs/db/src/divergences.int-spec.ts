import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '@asana-stream/testing';
import { createDataSource } from './data-source';
import { divergenceSummary, recordDivergences, resolveDivergences, type FoundDivergence } from './divergences';

/** A divergence of project `p1` on `gid`, with the versions given. */
const found = (gid: string, cause: FoundDivergence['cause'], asana: number | null, projected: number | null) => ({
  gid,
  type: 'task',
  resourceGid: 'p1',
  cause,
  asanaVersion: asana,
  projectedVersion: projected,
});

describe('divergences (real Postgres)', () => {
  let db: TestDatabase;
  let pg: Client;
  /** The functions under test run on TypeORM, as the enricher and the cli call them. */
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    ds = await createDataSource(db.url, 2).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await pg?.end();
    await db?.drop();
  });

  const project = (gid: string, version: number, deleted = false) =>
    pg.query(
      `INSERT INTO tasks (gid, state, version, deleted_at, updated_at) VALUES ($1, '{}', $2, $3, now())
       ON CONFLICT (gid) DO UPDATE SET version = EXCLUDED.version, deleted_at = EXCLUDED.deleted_at`,
      [gid, version, deleted ? new Date() : null],
    );
  const open = async () => (await pg.query<{ gid: string }>('SELECT gid FROM divergences ORDER BY gid')).rows;

  it('is open until the projection holds the Asana version found; a vanished one until any newer version', async () => {
    await project('stale', 100);
    await project('vanished', 100);
    await recordDivergences(ds, 'sweep', [
      found('missing', 'missing', 200, null),
      found('stale', 'stale', 200, 100),
      found('vanished', 'vanished', null, 100),
    ]);
    expect(await divergenceSummary(ds)).toMatchObject({ open: 3, oldestFoundAt: expect.any(Date) });

    // Older than what Asana had: still behind. Missing from the projection: still behind.
    await project('stale', 150);
    expect((await divergenceSummary(ds)).open).toBe(3);
    // At Asana's version (or past it), and a tombstone newer than what the vanished one held.
    await project('stale', 200);
    await project('vanished', 101, true);
    const summary = await divergenceSummary(ds);
    expect(summary.open).toBe(1);
    expect(summary.byResource.get('p1')).toMatchObject({ open: 1 });
    // Readings leave resolved rows out before they are deleted; resolving deletes exactly those.
    expect((await open()).map((r) => r.gid)).toEqual(['missing', 'stale', 'vanished']);
    expect(await resolveDivergences(ds)).toBe(2);
    expect((await open()).map((r) => r.gid)).toEqual(['missing']);

    await project('missing', 200);
    expect(await divergenceSummary(ds)).toEqual({
      open: 0,
      oldestFoundAt: null,
      oldestAgeSeconds: 0,
      byResource: new Map(),
    });
  });

  it('keeps when a divergence was first found, and the newest Asana version, when it is found again', async () => {
    await pg.query('DELETE FROM divergences');
    await recordDivergences(ds, 'events-api', [found('again', 'event', 300, null)]);
    const first = (await pg.query<{ found_at: Date }>('SELECT found_at FROM divergences')).rows[0].found_at;
    await new Promise((done) => setTimeout(done, 20));
    await recordDivergences(ds, 'sweep', [found('again', 'missing', 400, null), found('again', 'missing', 350, null)]);
    const { rows } = await pg.query<{ found_at: Date; asana_version: string; cause: string; found_by: string }>(
      'SELECT found_at, asana_version, cause, found_by FROM divergences',
    );
    expect(rows).toEqual([{ found_at: first, asana_version: '400', cause: 'event', found_by: 'events-api' }]);
    await project('again', 300);
    expect((await divergenceSummary(ds)).open).toBe(1);
    await new Promise((done) => setTimeout(done, 20));
    expect((await divergenceSummary(ds)).oldestAgeSeconds).toBeGreaterThan(0.02);
    await project('again', 400);
    expect((await divergenceSummary(ds)).oldestAgeSeconds).toBe(0);
  });
});
