import { createTestDatabase, type TestDatabase } from '@asana-stream/testing';
import { PacedResourceFetcher } from './paced-resource-fetcher';

describe('PacedResourceFetcher with a budget shared in Postgres', () => {
  let db: TestDatabase;
  const fetchers: PacedResourceFetcher[] = [];
  beforeAll(async () => (db = await createTestDatabase()));
  afterAll(async () => {
    await Promise.all(fetchers.map((f) => f.onApplicationShutdown()));
    await db?.drop();
  });

  function fetcher(url: string, token: string, calls: string[]): PacedResourceFetcher {
    const made = new PacedResourceFetcher(
      { getResource: (_type, gid) => (calls.push(gid), Promise.resolve({ gid })) },
      { requestsPerMinute: 18, budgetDatabaseUrl: url, token, fallbackRequestsPerMinute: 6 },
    );
    fetchers.push(made);
    return made;
  }
  const settledSoon = async (fetches: Promise<unknown>[]) => {
    const done: boolean[] = fetches.map(() => false);
    fetches.forEach((f, i) => void f.then(() => (done[i] = true)));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    return done.filter(Boolean).length;
  };

  it("lets two processes together take one window's share (3 of 18 a minute), then holds both", async () => {
    const calls: string[] = [];
    const [a, b] = [fetcher(db.url, 'token-1', calls), fetcher(db.url, 'token-1', calls)];
    const fetches = ['1', '2', '3', '4', '5', '6'].map((gid, i) =>
      (i % 2 ? a : b).getResource('task', gid).catch(() => undefined),
    );
    expect(await settledSoon(fetches)).toBe(3);
    // Another token has a budget of its own.
    const other = fetcher(db.url, 'token-2', calls);
    expect(await settledSoon([other.getResource('task', '7')])).toBe(1);
    for (const f of [a, b]) f.beforeApplicationShutdown();
  }, 20_000);

  it("counts the fallback budget in memory while the budget's Postgres cannot be reached", async () => {
    const calls: string[] = [];
    const offline = fetcher('postgres://postgres@127.0.0.1:1/none', 'token-3', calls);
    const fetches = ['1', '2', '3'].map((gid) => offline.getResource('task', gid).catch(() => undefined));
    expect(await settledSoon(fetches)).toBe(1); // 6 a minute: 1 per 10-second window
    offline.beforeApplicationShutdown();
  }, 20_000);
});
