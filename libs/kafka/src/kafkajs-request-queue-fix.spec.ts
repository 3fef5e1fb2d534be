import { fixKafkajsIdleTimerLoop, isKafkajsIdleTimerLoop } from './kafkajs-request-queue-fix';

/** kafkajs' request queue, as these tests drive it. */
interface RequestQueue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
  maybeThrottle(ms: number): void;
  push(request: PushedRequest): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
}
interface PushedRequest {
  entry: {
    correlationId: number;
    apiKey: number;
    apiName: string;
    apiVersion: number;
    resolve(): void;
    reject(): void;
  };
  expectResponse: boolean;
  sendRequest: () => void;
}
type RequestQueueClass = new (options: Record<string, unknown>) => RequestQueue;

// The module the fix replaces a method of (not exported by kafkajs: its file within the package).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue') as RequestQueueClass;
/** kafkajs' own method, as released, taken before any test applies the fix. */
const released = RequestQueue.prototype.scheduleCheckPendingRequests;

const quietLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function requestQueue(): RequestQueue {
  return new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'fix-test',
    broker: '127.0.0.1:9092',
    logger: quietLogger,
  });
}

function request(correlationId: number): PushedRequest & { sendRequest: jest.Mock } {
  return {
    entry: {
      correlationId,
      apiKey: 0,
      apiName: 'Produce',
      apiVersion: 7,
      resolve: () => undefined,
      reject: () => undefined,
    },
    expectResponse: true,
    sendRequest: jest.fn(),
  };
}

/** How often `queue` checked its pending requests while `ms` passed. */
async function checksDuring(queue: RequestQueue, ms: number): Promise<number> {
  const checks = jest.spyOn(queue, 'checkPendingRequests');
  await jest.advanceTimersByTimeAsync(ms);
  const count = checks.mock.calls.length;
  checks.mockRestore();
  return count;
}

describe("the fix of kafkajs' idle request-queue timer", () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('is needed: as released, an idle queue checks itself about every millisecond, forever', async () => {
    const queue = requestQueue();
    queue.scheduleCheckPendingRequests = released; // this instance only
    queue.checkPendingRequests();

    expect(await checksDuring(queue, 100)).toBeGreaterThanOrEqual(50);
    expect(await checksDuring(queue, 100)).toBeGreaterThanOrEqual(50);
  });

  it('recognises kafkajs 2.2.4 and applies once; a method it does not know is left alone', () => {
    expect(isKafkajsIdleTimerLoop(released)).toBe(true);
    expect(isKafkajsIdleTimerLoop(() => undefined)).toBe(false);
    expect(fixKafkajsIdleTimerLoop()).toBe(true);
    expect(fixKafkajsIdleTimerLoop()).toBe(true);
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).not.toBe(released);
  });

  describe('applied', () => {
    beforeAll(() => fixKafkajsIdleTimerLoop());

    it('schedules nothing for an idle queue', async () => {
      const queue = requestQueue();
      queue.checkPendingRequests();

      expect(jest.getTimerCount()).toBe(0);
      expect(await checksDuring(queue, 1000)).toBe(0);
    });

    it('sends a request that waited for the one in flight once that is answered, checking every 10 ms meanwhile', async () => {
      const queue = requestQueue();
      const first = request(1);
      const second = request(2);
      queue.push(first);
      queue.push(second);
      expect([first.sendRequest.mock.calls.length, second.sendRequest.mock.calls.length]).toEqual([1, 0]);

      expect(await checksDuring(queue, 100)).toBeGreaterThanOrEqual(9);
      expect(second.sendRequest).not.toHaveBeenCalled();

      queue.fulfillRequest({ correlationId: 1, payload: Buffer.alloc(0), size: 0 });
      expect(second.sendRequest).toHaveBeenCalledTimes(1);
      queue.fulfillRequest({ correlationId: 2, payload: Buffer.alloc(0), size: 0 });
      // The check scheduled while the second waited runs once more, and schedules nothing.
      expect(await checksDuring(queue, 1000)).toBeLessThanOrEqual(1);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('with a broker throttle and nothing pending, checks once when the throttle ends', async () => {
      const queue = requestQueue();
      queue.maybeThrottle(250);
      queue.checkPendingRequests();

      expect(await checksDuring(queue, 249)).toBe(0);
      expect(await checksDuring(queue, 1)).toBe(1);
      expect(await checksDuring(queue, 1000)).toBe(0);
    });

    it('sends a request pushed while throttled once the throttle ends', async () => {
      const queue = requestQueue();
      queue.maybeThrottle(250);
      const waiting = request(1);
      queue.push(waiting);
      expect(waiting.sendRequest).not.toHaveBeenCalled();

      await jest.advanceTimersByTimeAsync(250);

      expect(waiting.sendRequest).toHaveBeenCalledTimes(1);
      expect(jest.getTimerCount()).toBe(0);
    });
  });
});
