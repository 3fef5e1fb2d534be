import { setTimeout as sleep } from 'node:timers/promises';
import { ApiRateLimits, RateLimitedError, type ApiRateLimitOptions } from './api-rate-limits';

const ASANA_LIKE: ApiRateLimitOptions = {
  requestsPerWindow: 3,
  windowSeconds: 1,
  maxConcurrentReads: 50,
  maxConcurrentWrites: 15,
};

/** Admits and finishes one request, or returns the refusal. */
async function call(limits: ApiRateLimits, token = 't', kind: 'read' | 'write' = 'read') {
  try {
    (await limits.admit(token, kind)).finish();
    return 'admitted';
  } catch (error) {
    if (error instanceof RateLimitedError) return error;
    throw error;
  }
}

describe('ApiRateLimits', () => {
  it('classifies GET, HEAD and OPTIONS as reads and everything else as writes', () => {
    expect(['GET', 'get', 'HEAD', 'OPTIONS'].map((m) => ApiRateLimits.kindOf(m))).toEqual([
      'read',
      'read',
      'read',
      'read',
    ]);
    expect(['POST', 'PUT', 'DELETE', 'PATCH'].map((m) => ApiRateLimits.kindOf(m))).toEqual([
      'write',
      'write',
      'write',
      'write',
    ]);
  });

  describe('the request budget', () => {
    it('admits the budget, then refuses with Retry-After in whole seconds within the window', async () => {
      const limits = new ApiRateLimits({ ...ASANA_LIKE, windowSeconds: 60 });

      expect([await call(limits), await call(limits), await call(limits)]).toEqual([
        'admitted',
        'admitted',
        'admitted',
      ]);
      const refused = await call(limits);

      expect(refused).toBeInstanceOf(RateLimitedError);
      const { retryAfterSeconds, code, message } = refused as RateLimitedError;
      expect(code).toBe('RATE_LIMITED');
      expect(message).toBe('You have made too many requests recently. Please, be chill.');
      expect(Number.isInteger(retryAfterSeconds)).toBe(true);
      expect(retryAfterSeconds).toBeGreaterThanOrEqual(59);
      expect(retryAfterSeconds).toBeLessThanOrEqual(60);
    });

    it('counts reads and writes alike, and admits again once the window has passed', async () => {
      const limits = new ApiRateLimits(ASANA_LIKE);
      await call(limits, 't', 'read');
      await call(limits, 't', 'write');
      await call(limits, 't', 'write');
      const refused = (await call(limits, 't', 'read')) as RateLimitedError;
      expect(refused.retryAfterSeconds).toBe(1);

      await sleep(refused.retryAfterSeconds! * 1000 + 50);

      expect(await call(limits)).toBe('admitted');
    });

    it('keeps a budget per token', async () => {
      const limits = new ApiRateLimits({ ...ASANA_LIKE, requestsPerWindow: 1, windowSeconds: 60 });
      expect(await call(limits, 'a')).toBe('admitted');
      expect(await call(limits, 'a')).toBeInstanceOf(RateLimitedError);
      expect(await call(limits, 'b')).toBe('admitted');
    });

    it('has no budget when requestsPerWindow is 0', async () => {
      const limits = new ApiRateLimits({ ...ASANA_LIKE, requestsPerWindow: 0 });
      const results = [];
      for (let i = 0; i < 500; i += 1) results.push(await call(limits));
      expect(results.every((r) => r === 'admitted')).toBe(true);
    });

    it('reports what it admitted and refused, with the limits in force', async () => {
      const limits = new ApiRateLimits({ ...ASANA_LIKE, requestsPerWindow: 2, windowSeconds: 60 });
      for (let i = 0; i < 5; i += 1) await call(limits);
      expect(limits.stats()).toEqual({
        ...ASANA_LIKE,
        requestsPerWindow: 2,
        windowSeconds: 60,
        admitted: 2,
        rateLimited: 3,
        concurrencyLimited: 0,
      });
    });
  });

  describe('requests in flight', () => {
    it('refuses a write past the cap without Retry-After, and admits again once one finishes', async () => {
      const limits = new ApiRateLimits({ ...ASANA_LIKE, requestsPerWindow: 0, maxConcurrentWrites: 2 });
      const first = await limits.admit('t', 'write');
      await limits.admit('t', 'write');

      const refused = await call(limits, 't', 'write');
      expect(refused).toBeInstanceOf(RateLimitedError);
      expect((refused as RateLimitedError).retryAfterSeconds).toBeNull();
      // Reads have their own cap.
      expect(await call(limits, 't', 'read')).toBe('admitted');

      first.finish();
      first.finish(); // finishing twice frees one slot, not two
      expect(await call(limits, 't', 'write')).toBe('admitted');
      await limits.admit('t', 'write');
      expect(await call(limits, 't', 'write')).toBeInstanceOf(RateLimitedError);
      expect(limits.stats().concurrencyLimited).toBe(2);
    });

    it('caps reads per token', async () => {
      const limits = new ApiRateLimits({ ...ASANA_LIKE, requestsPerWindow: 0, maxConcurrentReads: 1 });
      await limits.admit('a', 'read');
      expect(await call(limits, 'a', 'read')).toBeInstanceOf(RateLimitedError);
      expect(await call(limits, 'b', 'read')).toBe('admitted');
    });

    it('reports the most requests of one token in flight at once, refused arrivals included', async () => {
      const limits = new ApiRateLimits({ ...ASANA_LIKE, requestsPerWindow: 0, maxConcurrentReads: 2 });
      expect(limits.inFlightPeaks()).toEqual({ mostReads: 0, mostWrites: 0 });
      const first = await limits.admit('a', 'read');
      await limits.admit('a', 'read');
      expect(limits.inFlightPeaks()).toEqual({ mostReads: 2, mostWrites: 0 });

      // A third read arrives while two are in flight: refused, but it was sent, so it counts.
      expect(await call(limits, 'a', 'read')).toBeInstanceOf(RateLimitedError);
      expect(limits.inFlightPeaks().mostReads).toBe(3);

      // The peak stays when requests finish; another token's reads are counted apart.
      first.finish();
      await limits.admit('b', 'read');
      await call(limits, 'a', 'write');
      expect(limits.inFlightPeaks()).toEqual({ mostReads: 3, mostWrites: 1 });
    });

    it('frees the slot of a request the budget refused', async () => {
      const limits = new ApiRateLimits({
        ...ASANA_LIKE,
        requestsPerWindow: 1,
        windowSeconds: 60,
        maxConcurrentReads: 1,
      });
      expect(await call(limits)).toBe('admitted');
      const refused = (await call(limits)) as RateLimitedError;
      expect(refused.retryAfterSeconds).not.toBeNull(); // the budget's refusal, not the cap's
      expect((await call(limits)) as RateLimitedError).toMatchObject({ retryAfterSeconds: expect.any(Number) });
      expect(limits.stats().concurrencyLimited).toBe(0);
    });
  });
});
