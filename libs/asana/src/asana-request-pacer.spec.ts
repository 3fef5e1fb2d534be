import { AsanaStreamError } from '@asana-stream/errors';
import { AsanaApiError, asanaErrorForStatus } from './asana-api.errors';
import {
  AsanaRequestPacer,
  FIRST_PAUSE_MS,
  MAX_OUTAGE_PAUSE_MS,
  MAX_RATE_LIMIT_PAUSE_MS,
  pauseAfterMs,
  WAIT_SLICE_MS,
} from './asana-request-pacer';

const tooManyRequests = (retryAfter: string | null) => asanaErrorForStatus(429, 'GET /tasks/1 → 429', retryAfter);
const failing = (status: number) => asanaErrorForStatus(status, `GET /tasks/1 → ${status}`, null);

/** Tracks whether a promise has settled, so a spec can look without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

describe('pauseAfterMs', () => {
  it.each([
    ['5', 0, 5_000],
    ['5', 7, 5_000],
    ['0', 3, 0],
    ['120', 0, 120_000],
  ])("waits a 429's Retry-After (%s s) whenever Asana sent it, whatever came before (%i)", (after, previous, want) => {
    expect(pauseAfterMs(tooManyRequests(after), previous)).toBe(want);
  });

  it.each([
    [0, 1_000],
    [1, 2_000],
    [2, 4_000],
    [3, 8_000],
    [4, 16_000],
    [5, 32_000],
    [6, 32_000],
    [50, 32_000],
    [5_000, 32_000],
  ])('after %i pauses in a row, pauses a 429 without Retry-After %i ms (doubling, capped)', (previous, want) => {
    expect(pauseAfterMs(tooManyRequests(null), previous)).toBe(want);
  });

  it.each([
    [0, 1_000],
    [3, 8_000],
    [5, 32_000],
    [6, 60_000],
    [7, 60_000],
    [5_000, 60_000],
  ])('after %i pauses in a row, pauses an outage %i ms (doubling, capped)', (previous, want) => {
    for (const status of [500, 502, 503, 504]) expect(pauseAfterMs(failing(status), previous)).toBe(want);
    const unreachable = new AsanaApiError('UNAVAILABLE', 'GET /tasks/1: fetch failed', null, true);
    expect(pauseAfterMs(unreachable, previous)).toBe(want);
    const notJson = new AsanaApiError('MALFORMED_RESPONSE', 'GET /tasks/1: response is not JSON', 200, true);
    expect(pauseAfterMs(notJson, previous)).toBe(want);
  });

  it("leaves every other answer to the request's caller", () => {
    for (const status of [400, 401, 402, 403, 404, 451]) expect(pauseAfterMs(failing(status), 0)).toBeNull();
    expect(pauseAfterMs(new TypeError('a bug'), 0)).toBeNull();
    expect(pauseAfterMs('a string', 0)).toBeNull();
  });

  it('starts at FIRST_PAUSE_MS and never exceeds its cap', () => {
    expect(pauseAfterMs(tooManyRequests(null), 0)).toBe(FIRST_PAUSE_MS);
    for (let n = 0; n < 100; n += 1) {
      expect(pauseAfterMs(tooManyRequests(null), n)).toBeLessThanOrEqual(MAX_RATE_LIMIT_PAUSE_MS);
      expect(pauseAfterMs(failing(503), n)).toBeLessThanOrEqual(MAX_OUTAGE_PAUSE_MS);
    }
  });
});

describe('AsanaRequestPacer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('refuses a budget that allows no request in a window, saying what would', () => {
    expect(() => new AsanaRequestPacer({ requestsPerMinute: 5 })).toThrow(
      'a budget of 5 requests a minute allows none per 10000 ms window: raise it to at least 6',
    );
    expect(() => new AsanaRequestPacer({ requestsPerMinute: 6 })).not.toThrow();
  });

  describe('the budget', () => {
    it("lets a window's share through at once and holds the next request until the window ends, plus its margin", async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 12 }); // 2 per 10-second window
      await pacer.acquire();
      await pacer.acquire();

      const third = track(pacer.acquire());
      await jest.advanceTimersByTimeAsync(10_240);
      expect(third.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(20);
      expect(third.settled).toBe(true);
    });

    it('scales the share to the window: 600 a minute in 1-second windows is 10 a window', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 600, windowMs: 1_000 });
      for (let i = 0; i < 10; i += 1) await pacer.acquire();
      const eleventh = track(pacer.acquire());
      await jest.advanceTimersByTimeAsync(1_015);
      expect(eleventh.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(20);
      expect(eleventh.settled).toBe(true);
    });

    it("opens windows late enough that none of Asana's fixed windows, starting with our first request, holds more than the quota", async () => {
      // 60 a minute in 10-second windows of 10. Asana counts our first share 50 ms after our
      // window started (cold connections), later ones 5 ms after they left: without the margin
      // our 7th window's share, sent at 60 s, would land in Asana's first window, at 60.005 s.
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 60 });
      const arrived: number[] = [];
      const start = Date.now();
      const sender = (async () => {
        for (let i = 0; i < 200; i += 1) {
          await pacer.acquire();
          arrived.push(Date.now() - start + (i < 10 ? 50 : 5));
        }
      })();
      await jest.advanceTimersByTimeAsync(200_000);
      await sender;
      const perAsanaWindow = [0, 1, 2].map(
        (w) => arrived.filter((t) => t >= 50 + w * 60_000 && t < 50 + (w + 1) * 60_000).length,
      );
      expect(perAsanaWindow).toEqual([60, 60, 60]);
      // 97.5 % of the quota over time: each 10-second share of 10 takes 10.25 s.
      expect(arrived[190]).toBe(19 * 10_250 + 5);
    });

    it('tells onBudget what each request left in the window, and when one found it spent', async () => {
      const told: [number, boolean][] = [];
      const pacer = new AsanaRequestPacer({
        requestsPerMinute: 12, // 2 per 10-second window
        onBudget: (remaining, exhausted) => told.push([remaining, exhausted]),
      });
      await pacer.acquire();
      await pacer.acquire();
      const third = track(pacer.acquire());
      await jest.advanceTimersByTimeAsync(10_260);

      expect(third.settled).toBe(true);
      expect(told).toEqual([
        [1, false],
        [0, false],
        [0, true],
        [1, false],
      ]);
    });

    it('calls whileWaiting at least every WAIT_SLICE_MS while it waits', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 6 }); // 1 per 10-second window
      await pacer.acquire();
      const beats: number[] = [];
      const start = Date.now();
      const waiting = track(
        pacer.acquire({ whileWaiting: () => Promise.resolve(void beats.push(Date.now() - start)) }),
      );

      await jest.advanceTimersByTimeAsync(10_260);

      expect(waiting.settled).toBe(true);
      expect(beats.length).toBeGreaterThanOrEqual(Math.floor(10_000 / WAIT_SLICE_MS));
      beats.forEach((at, i) => expect(at - (beats[i - 1] ?? 0)).toBeLessThanOrEqual(WAIT_SLICE_MS));
    });
  });

  describe('pauses', () => {
    it('holds every request until a pause ends; a shorter pause does not cut a longer one', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 1_500 });
      pacer.pauseFor(5_000);
      pacer.pauseFor(1_000);
      expect(pacer.pausedForMs()).toBe(5_000);

      const waiting = track(pacer.acquire());
      await jest.advanceTimersByTimeAsync(4_990);
      expect(waiting.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(20);
      expect(waiting.settled).toBe(true);
      expect(pacer.pausedForMs()).toBe(0);
    });
  });

  describe('run', () => {
    it("asks again after a 429, no sooner than Asana's Retry-After, and returns the answer", async () => {
      const rateLimited: [AsanaApiError, number][] = [];
      const pacer = new AsanaRequestPacer({
        requestsPerMinute: 1_500,
        onPause: (error, pauseMs) => rateLimited.push([error, pauseMs]),
      });
      const calls: number[] = [];
      const request = jest.fn(() => {
        calls.push(Date.now());
        return calls.length === 1 ? Promise.reject(tooManyRequests('5')) : Promise.resolve('state');
      });

      const result = track(pacer.run(request));
      await jest.advanceTimersByTimeAsync(4_990);
      expect(calls).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(20);

      expect(result).toMatchObject({ settled: true, value: 'state' });
      expect(calls[1] - calls[0]).toBeGreaterThanOrEqual(5_000);
      expect(rateLimited.map(([error, pause]) => [error.code, pause])).toEqual([['RATE_LIMITED', 5_000]]);
    });

    it('holds the other requests of the process during that pause', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 1_500 });
      let first = true;
      const refusedOnce = track(
        pacer.run(() => {
          if (!first) return Promise.resolve('a');
          first = false;
          return Promise.reject(tooManyRequests('3'));
        }),
      );
      await jest.advanceTimersByTimeAsync(0);
      const other = jest.fn(() => Promise.resolve('b'));

      const later = track(pacer.run(other));
      await jest.advanceTimersByTimeAsync(2_990);
      expect(other).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(20);

      expect(later).toMatchObject({ settled: true, value: 'b' });
      expect(refusedOnce).toMatchObject({ settled: true, value: 'a' });
    });

    it('backs off 1 s, 2 s, 4 s on 429s without Retry-After, and starts over after an answer', async () => {
      const pauses: number[] = [];
      const pacer = new AsanaRequestPacer({
        requestsPerMinute: 1_500,
        onPause: (_error, pauseMs) => pauses.push(pauseMs),
      });
      const answers = [null, null, null, 'ok', null, 'ok again'];
      const request = () => {
        const answer = answers.shift();
        return answer ? Promise.resolve(answer) : Promise.reject(tooManyRequests(null));
      };

      const first = track(pacer.run(request));
      await jest.advanceTimersByTimeAsync(7_100);
      expect(first).toMatchObject({ settled: true, value: 'ok' });
      const second = track(pacer.run(request));
      await jest.advanceTimersByTimeAsync(1_100);
      expect(second).toMatchObject({ settled: true, value: 'ok again' });

      expect(pauses).toEqual([1_000, 2_000, 4_000, 1_000]);
    });

    it('waits out an outage with the same backoff, then returns the answer', async () => {
      const pauses: [string, number][] = [];
      const pacer = new AsanaRequestPacer({
        requestsPerMinute: 1_500,
        onPause: (error, pauseMs) => pauses.push([error.code, pauseMs]),
      });
      const answers: (number | string)[] = [503, 500, 'state'];
      const request = jest.fn(() => {
        const answer = answers.shift()!;
        return typeof answer === 'number' ? Promise.reject(failing(answer)) : Promise.resolve(answer);
      });

      const result = track(pacer.run(request));
      await jest.advanceTimersByTimeAsync(2_990);
      expect(request).toHaveBeenCalledTimes(2);
      await jest.advanceTimersByTimeAsync(20);

      expect(result).toMatchObject({ settled: true, value: 'state' });
      expect(pauses).toEqual([
        ['UNAVAILABLE', 1_000],
        ['UNAVAILABLE', 2_000],
      ]);
    });

    it('passes every other error to the caller at once, without asking again', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 1_500 });
      for (const status of [400, 401, 404]) {
        const error = failing(status);
        const request = jest.fn(() => Promise.reject(error));
        await expect(pacer.run(request)).rejects.toBe(error);
        expect(request).toHaveBeenCalledTimes(1);
      }
      const notAsana = new TypeError('fetch failed');
      await expect(pacer.run(() => Promise.reject(notAsana))).rejects.toBe(notAsana);
      expect(pacer.pausedForMs()).toBe(0);
    });

    it('spends budget on every attempt, the refused ones included', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 12 }); // 2 per window
      let attempts = 0;
      const result = track(
        pacer.run(() => (++attempts === 1 ? Promise.reject(tooManyRequests('1')) : Promise.resolve('ok'))),
      );
      await jest.advanceTimersByTimeAsync(1_010);
      expect(result).toMatchObject({ settled: true, value: 'ok' });

      // Both attempts came out of this window's 2: a third request waits for the next window.
      const third = track(pacer.acquire());
      await jest.advanceTimersByTimeAsync(8_000);
      expect(third.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1_260);
      expect(third.settled).toBe(true);
    });
  });

  describe('cancelling', () => {
    /** What a wait that `signal` cancelled rejects with. */
    const aborted = expect.objectContaining({ name: 'AsanaStreamError', code: 'ABORTED', disposition: 'retry' });

    it('ends a wait for budget at once when its signal is aborted, with ABORTED, taking no budget', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 6 }); // 1 per 10-second window
      await pacer.acquire();
      const cancel = new AbortController();
      const waiting = track(pacer.acquire({ signal: cancel.signal }));
      await jest.advanceTimersByTimeAsync(4_000);
      expect(waiting.settled).toBe(false);

      cancel.abort();
      await jest.advanceTimersByTimeAsync(0);

      expect(waiting).toMatchObject({ settled: true, error: aborted });
      expect(waiting.error).toBeInstanceOf(AsanaStreamError);
      // The next window's one request is still there for someone else.
      const next = track(pacer.acquire());
      await jest.advanceTimersByTimeAsync(6_260);
      expect(next.settled).toBe(true);
    });

    it("ends a wait for a 429's Retry-After at once, without asking Asana again", async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 1_500 });
      const request = jest.fn(() => Promise.reject(tooManyRequests('30')));
      const cancel = new AbortController();
      const result = track(pacer.run(request, { signal: cancel.signal }));
      await jest.advanceTimersByTimeAsync(10_000);
      expect(result.settled).toBe(false);

      cancel.abort();
      await jest.advanceTimersByTimeAsync(0);

      expect(result).toMatchObject({ settled: true, error: aborted });
      expect(request).toHaveBeenCalledTimes(1);
    });

    it("ends a wait for an outage's backoff at once, heartbeating until then", async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 1_500 });
      const request = jest.fn(() => Promise.reject(failing(503)));
      const cancel = new AbortController();
      let beats = 0;
      const whileWaiting = () => Promise.resolve(void (beats += 1));
      const result = track(pacer.run(request, { whileWaiting, signal: cancel.signal }));
      // 1 s, 2 s, 4 s, 8 s, 16 s of backoff: 31 s in, the sixth answer started a 32-second pause.
      await jest.advanceTimersByTimeAsync(40_000);
      expect(result.settled).toBe(false);
      expect(request).toHaveBeenCalledTimes(6);
      expect(beats).toBeGreaterThan(0);

      cancel.abort();
      await jest.advanceTimersByTimeAsync(0);

      expect(result).toMatchObject({ settled: true, error: aborted });
      expect(request).toHaveBeenCalledTimes(6);
    });

    it('ends a wait at once even while its heartbeat hangs', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 1_500 });
      pacer.pauseFor(60_000);
      const cancel = new AbortController();
      const hanging = jest.fn(() => new Promise<void>(() => {}));
      const waiting = track(pacer.acquire({ whileWaiting: hanging, signal: cancel.signal }));
      await jest.advanceTimersByTimeAsync(WAIT_SLICE_MS);
      expect(hanging).toHaveBeenCalledTimes(1);

      cancel.abort();
      await jest.advanceTimersByTimeAsync(0);

      expect(waiting).toMatchObject({ settled: true, error: aborted });
    });

    it('gives the request its signal, and a request it cancels neither pauses nor counts as an outage', async () => {
      const pauses: number[] = [];
      const pacer = new AsanaRequestPacer({
        requestsPerMinute: 1_500,
        onPause: (_error, pauseMs) => pauses.push(pauseMs),
      });
      const cancel = new AbortController();
      // As AsanaClient does: the fetch in flight rejects with ABORTED when the signal is aborted.
      const inFlight = (signal?: AbortSignal) =>
        new Promise<string>((_resolve, reject) =>
          signal?.addEventListener('abort', () => reject(new AsanaStreamError('ABORTED', 'GET /tasks/1: cancelled'))),
        );
      const result = track(pacer.run(inFlight, { signal: cancel.signal }));
      await jest.advanceTimersByTimeAsync(1_000);

      cancel.abort();
      await jest.advanceTimersByTimeAsync(0);

      expect(result).toMatchObject({ settled: true, error: aborted });
      expect(pauses).toEqual([]);
      expect(pacer.pausedForMs()).toBe(0);
    });

    it('sends no request when the signal was aborted before the call', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 1_500 });
      const request = jest.fn(() => Promise.resolve('state'));

      await expect(pacer.run(request, { signal: AbortSignal.abort() })).rejects.toEqual(aborted);

      expect(request).not.toHaveBeenCalled();
    });

    it('leaves the pacer as it was for the other callers: their wait, the pause and its backoff', async () => {
      const pauses: number[] = [];
      const pacer = new AsanaRequestPacer({
        requestsPerMinute: 1_500,
        onPause: (_error, pauseMs) => pauses.push(pauseMs),
      });
      const answers: (number | string)[] = [503, 503, 'a'];
      const other = jest.fn(() => {
        const answer = answers.shift()!;
        return typeof answer === 'number' ? Promise.reject(failing(answer)) : Promise.resolve(answer);
      });
      const othersResult = track(pacer.run(other));
      await jest.advanceTimersByTimeAsync(0); // the first 503: a 1-second pause
      const cancel = new AbortController();
      const cancelled = track(pacer.run(() => Promise.resolve('b'), { signal: cancel.signal }));

      cancel.abort();
      await jest.advanceTimersByTimeAsync(0);
      expect(cancelled).toMatchObject({ settled: true, error: aborted });
      expect(othersResult.settled).toBe(false);
      await jest.advanceTimersByTimeAsync(3_010); // 1 s, then the second 503's 2 s

      expect(othersResult).toMatchObject({ settled: true, value: 'a' });
      expect(pauses).toEqual([1_000, 2_000]);
      expect(await pacer.run(() => Promise.resolve('c'), { signal: new AbortController().signal })).toBe('c');
    });
  });

  describe('requests in flight', () => {
    it('never has more than maxInFlight requests out; the others wait, first come first served', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 100_000, maxInFlight: 3 });
      let out = 0;
      let most = 0;
      const answers: (() => void)[] = [];
      const started: number[] = [];
      const request = (n: number) => () => {
        started.push(n);
        most = Math.max(most, ++out);
        return new Promise<number>((resolve) =>
          answers.push(() => {
            out -= 1;
            resolve(n);
          }),
        );
      };
      const runs = Array.from({ length: 7 }, (_, n) => track(pacer.run(request(n))));
      await jest.advanceTimersByTimeAsync(0);
      expect(started).toEqual([0, 1, 2]);
      expect(pacer.inFlight).toBe(3);
      while (answers.length > 0) {
        answers.shift()!();
        await jest.advanceTimersByTimeAsync(0);
      }
      expect(runs.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(most).toBe(3);
      expect(pacer.inFlight).toBe(0);
    });

    it('frees the slot of a request that failed, was refused with a 429, or whose wait was aborted', async () => {
      const pacer = new AsanaRequestPacer({ requestsPerMinute: 100_000, maxInFlight: 1 });
      await expect(pacer.run(() => Promise.reject(failing(400)))).rejects.toMatchObject({ code: 'REJECTED' });
      expect(pacer.inFlight).toBe(0);

      let hold!: () => void;
      const first = track(pacer.run(() => new Promise<string>((resolve) => (hold = () => resolve('first')))));
      const cancel = new AbortController();
      const waiting = track(pacer.run(() => Promise.resolve('never'), { signal: cancel.signal }));
      await jest.advanceTimersByTimeAsync(0);
      cancel.abort();
      await jest.advanceTimersByTimeAsync(0);
      expect(waiting.error).toMatchObject({ code: 'ABORTED' });
      hold();
      await jest.advanceTimersByTimeAsync(0);
      expect(first.value).toBe('first');

      let calls = 0;
      const retried = track(
        pacer.run(() => (++calls === 1 ? Promise.reject(tooManyRequests('1')) : Promise.resolve('after'))),
      );
      const other = track(pacer.run(() => Promise.resolve('other')));
      await jest.advanceTimersByTimeAsync(1_000);
      expect([retried.value, other.value]).toEqual(['after', 'other']);
      expect(pacer.inFlight).toBe(0);
    });

    it('refuses a cap below one', () => {
      expect(() => new AsanaRequestPacer({ requestsPerMinute: 1_500, maxInFlight: 0 })).toThrow(/maxInFlight/);
    });
  });
});
