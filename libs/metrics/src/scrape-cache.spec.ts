import { ScrapeCache } from './scrape-cache';

/** A read the test settles by hand, counting how often it was asked. */
function manualRead() {
  const pending: { resolve: (value: number) => void; reject: (error: Error) => void }[] = [];
  const read = () => new Promise<number>((resolve, reject) => pending.push({ resolve, reject }));
  return { read, pending };
}

describe('ScrapeCache', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000_000;
  });

  it('reads once for concurrent scrapes and reuses the value for maxAgeMs', async () => {
    const { read, pending } = manualRead();
    const cache = new ScrapeCache(read, { maxAgeMs: 5000, timeoutMs: 1000, now: clock });

    const first = cache.get();
    const second = cache.get();
    pending[0].resolve(7);

    await expect(first).resolves.toBe(7);
    await expect(second).resolves.toBe(7);
    now += 4999;
    await expect(cache.get()).resolves.toBe(7);
    expect(pending).toHaveLength(1);

    now += 1;
    const third = cache.get();
    pending[1].resolve(8);
    await expect(third).resolves.toBe(8);
  });

  it('answers with the last value when a read fails, and reads again at the next scrape', async () => {
    const { read, pending } = manualRead();
    const cache = new ScrapeCache(read, { maxAgeMs: 0, timeoutMs: 1000, now: clock });

    const first = cache.get();
    pending[0].reject(new Error('postgres is down'));
    await expect(first).resolves.toBeUndefined();

    const second = cache.get();
    pending[1].resolve(3);
    await expect(second).resolves.toBe(3);

    const third = cache.get();
    pending[2].reject(new Error('postgres is down'));
    await expect(third).resolves.toBe(3);
  });

  it('stops waiting after timeoutMs, and a late read still fills the cache without a second read', async () => {
    const { read, pending } = manualRead();
    const cache = new ScrapeCache(read, { maxAgeMs: 5000, timeoutMs: 20, now: clock });

    const started = performance.now();
    await expect(cache.get()).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1000);

    const waiting = cache.get(); // the first read is still running: no second one
    expect(pending).toHaveLength(1);
    pending[0].resolve(9);
    await expect(waiting).resolves.toBe(9);
    await expect(cache.get()).resolves.toBe(9);
    expect(pending).toHaveLength(1);
  });
});
