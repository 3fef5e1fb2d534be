import { getHeapStatistics } from 'node:v8';
import { heapGrowingPercentFor, SMALL_HEAP_GROWING_PERCENT, tuneHeapGrowth } from './heap-growth';

const MB = 1024 * 1024;

describe('heap growth', () => {
  it('lets a heap capped below 1 GiB grow to twice its live size between full collections', () => {
    expect(heapGrowingPercentFor(256 * MB)).toBe(SMALL_HEAP_GROWING_PERCENT);
    expect(heapGrowingPercentFor(1024 * MB - 1)).toBe(100);
  });

  it("leaves a large heap to V8's own factor", () => {
    expect(heapGrowingPercentFor(1024 * MB)).toBeUndefined();
    expect(heapGrowingPercentFor(4096 * MB)).toBeUndefined();
  });

  it("sets V8's flag only for a small heap, and says what it set", () => {
    expect(tuneHeapGrowth(4096 * MB)).toBeUndefined();
    expect(tuneHeapGrowth(256 * MB)).toBe(100);
    // Without an argument it reads this process's own limit.
    expect(tuneHeapGrowth()).toBe(heapGrowingPercentFor(getHeapStatistics().heap_size_limit));
  });
});
