import { RetryPolicy, waitUnlessAborted } from './retry-policy';

describe('RetryPolicy', () => {
  const at = (random: number) => new RetryPolicy({}, () => random);

  it('waits anywhere below a ceiling that starts at 200 ms and doubles per attempt (full jitter)', () => {
    const ceilings = [2, 3, 4, 5, 6].map((attempt) => at(0.999_999).delayBefore(attempt, 0, 0));
    expect(ceilings).toEqual([199, 399, 799, 1599, 3199]);
    expect(at(0).delayBefore(2, 0, 0)).toBe(0);
    expect(at(0.5).delayBefore(3, 0, 0)).toBe(200);
  });

  it('never waits more than 10 s between attempts', () => {
    expect(at(0.999_999).delayBefore(9, 0, 0)).toBe(9_999);
  });

  it('gives up after 10 attempts, or once 30 s passed since the first failure, and never waits past that', () => {
    expect(at(0.5).delayBefore(10, 0, 0)).not.toBeNull();
    expect(at(0.5).delayBefore(11, 0, 0)).toBeNull();
    expect(at(0.5).delayBefore(3, 1000, 31_000)).toBeNull();
    expect(at(0.999_999).delayBefore(9, 0, 29_000)).toBe(1000);
  });

  it('takes its bounds from the options', () => {
    const policy = new RetryPolicy({ baseDelayMs: 10, maxDelayMs: 40, budgetMs: 100, maxAttempts: 3 }, () => 0.999_999);
    expect([2, 3].map((n) => policy.delayBefore(n, 0, 0))).toEqual([9, 19]);
    expect(policy.delayBefore(4, 0, 0)).toBeNull();
    expect(policy.delayBefore(2, 0, 100)).toBeNull();
  });

  it('retries a halted message slowly: between half and all of 1 s doubling up to 30 s', () => {
    expect([1, 2, 3].map((n) => at(0).haltDelay(n))).toEqual([500, 1000, 2000]);
    expect([1, 6, 7, 20].map((n) => at(0.999_999).haltDelay(n))).toEqual([999, 29_999, 29_999, 29_999]);
  });
});

describe('waitUnlessAborted', () => {
  it('resolves true once the time passed', async () => {
    await expect(waitUnlessAborted(5, new AbortController().signal)).resolves.toBe(true);
  });

  it('resolves false at once when the signal aborts, and when it already had', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = waitUnlessAborted(60_000, controller.signal);
    controller.abort();
    await expect(waiting).resolves.toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(waitUnlessAborted(60_000, controller.signal)).resolves.toBe(false);
  });
});
