import { retryDelayMs } from './backoff';

describe('retryDelayMs', () => {
  it('doubles from the base with each failure', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 100, 10_000))).toEqual([100, 200, 400, 800]);
  });

  it('never exceeds the maximum, even after very many failures', () => {
    expect(retryDelayMs(10, 100, 5000)).toBe(5000);
    expect(retryDelayMs(5000, 100, 5000)).toBe(5000);
  });
});
