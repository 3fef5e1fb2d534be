import { retryDelayMs } from './events-follower.service';

describe('retryDelayMs', () => {
  it('waits the interval after the first failure, doubling with each one after', () => {
    expect([0, 1, 2, 3].map((failures) => retryDelayMs(30_000, failures))).toEqual([30_000, 60_000, 120_000, 240_000]);
  });

  it('never waits more than 15 minutes, however many failures', () => {
    expect(retryDelayMs(30_000, 10)).toBe(15 * 60_000);
    expect(retryDelayMs(30_000, 10_000)).toBe(15 * 60_000);
  });

  it('never waits less than the interval, even one longer than the cap', () => {
    expect(retryDelayMs(60 * 60_000, 3)).toBe(60 * 60_000);
  });
});
