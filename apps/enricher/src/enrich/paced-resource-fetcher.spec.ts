import { Logger } from '@nestjs/common';
import { asanaErrorForStatus, type AsanaClient, type AsanaResource } from '@asana-stream/asana';
import { AsanaStreamError } from '@asana-stream/errors';
import { metricsRegistry } from '@asana-stream/metrics';
import { PacedResourceFetcher } from './paced-resource-fetcher';

type GetResource = AsanaClient['getResource'];

/** Tracks whether a promise has settled, so a spec can look without awaiting it. */
function track<T>(promise: Promise<T>) {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

const aborted = expect.objectContaining({ name: 'AsanaStreamError', code: 'ABORTED', disposition: 'retry' });
const task = (gid: string): AsanaResource => ({ gid, resource_type: 'task' });

describe('PacedResourceFetcher', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    // Each outage answer logs a warning; the specs look at outcomes, not at the log.
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  /** A client whose API is down until `recover()`; then it serves every task. */
  function failingClient() {
    let down = true;
    const getResource = jest.fn<ReturnType<GetResource>, Parameters<GetResource>>((_type, gid) =>
      down ? Promise.reject(asanaErrorForStatus(503, `GET /tasks/${gid} → 503`, null)) : Promise.resolve(task(gid)),
    );
    return { client: { getResource }, getResource, recover: () => (down = false) };
  }

  it('ends every fetch waiting out an outage at once on shutdown, and asks Asana nothing more', async () => {
    const { client, getResource } = failingClient();
    const fetcher = new PacedResourceFetcher(client, 1_500);
    const first = track(fetcher.getResource('task', '1'));
    const second = track(fetcher.getResource('task', '2', ['name'], { signal: new AbortController().signal }));
    await jest.advanceTimersByTimeAsync(30_000);
    expect([first.settled, second.settled]).toEqual([false, false]);
    const asked = getResource.mock.calls.length;

    fetcher.beforeApplicationShutdown();
    await jest.advanceTimersByTimeAsync(0);

    expect(first).toMatchObject({ settled: true, error: aborted });
    expect(second).toMatchObject({ settled: true, error: aborted });
    expect(first.error).toBeInstanceOf(AsanaStreamError);
    await expect(fetcher.getResource('task', '3')).rejects.toEqual(aborted);
    expect(getResource).toHaveBeenCalledTimes(asked);
  });

  it('cancels the request in flight on shutdown through the signal it gives the client', async () => {
    const getResource = jest.fn<ReturnType<GetResource>, Parameters<GetResource>>(
      (_type, gid, _fields, options) =>
        new Promise((_resolve, reject) =>
          options?.signal?.addEventListener('abort', () =>
            reject(new AsanaStreamError('ABORTED', `GET /tasks/${gid}: cancelled`)),
          ),
        ),
    );
    const fetcher = new PacedResourceFetcher({ getResource }, 1_500);
    const fetching = track(fetcher.getResource('task', '1', ['name']));
    await jest.advanceTimersByTimeAsync(0);
    expect(getResource).toHaveBeenCalledWith('task', '1', ['name'], { signal: expect.any(AbortSignal) });

    fetcher.beforeApplicationShutdown();
    await jest.advanceTimersByTimeAsync(0);

    expect(fetching).toMatchObject({ settled: true, error: aborted });
  });

  it("ends only its own fetch when a caller's signal is aborted: the others get their state after the outage", async () => {
    const { client, recover } = failingClient();
    const fetcher = new PacedResourceFetcher(client, 1_500);
    const cancel = new AbortController();
    const cancelled = track(fetcher.getResource('task', '1', [], { signal: cancel.signal }));
    const other = track(fetcher.getResource('task', '2', [], { signal: new AbortController().signal }));
    await jest.advanceTimersByTimeAsync(5_000);

    cancel.abort();
    await jest.advanceTimersByTimeAsync(0);
    expect(cancelled).toMatchObject({ settled: true, error: aborted });
    expect(other.settled).toBe(false);
    recover();
    await jest.advanceTimersByTimeAsync(60_000);

    expect(other).toMatchObject({ settled: true, value: task('2') });
  });

  it('reports each request just before it goes out, after the wait and again before the retry', async () => {
    const { client, getResource, recover } = failingClient();
    const fetcher = new PacedResourceFetcher(client, 1_500);
    const requests: number[] = [];
    const onRequest = () => void requests.push(getResource.mock.calls.length);
    const fetching = track(fetcher.getResource('task', '1', [], { onRequest }));
    await jest.advanceTimersByTimeAsync(0);
    recover();
    await jest.advanceTimersByTimeAsync(5_000);

    expect(fetching).toMatchObject({ settled: true, value: task('1') });
    // Each report came before its request: none had been made at the first, one at the second.
    expect(requests).toEqual([0, 1]);
    expect(getResource).toHaveBeenCalledTimes(2);
  });

  it("gauges the budget's window as each request leaves it, and counts requests that found it spent", async () => {
    const { client, recover } = failingClient();
    recover();
    const fetcher = new PacedResourceFetcher(client, 12); // 2 requests per 10-second window
    const exhaustedBefore = await metricValue('asana_stream_asana_budget_exhausted_total');

    await fetcher.getResource('task', '1');
    expect(await metricValue('asana_stream_asana_budget_remaining_requests')).toBe(1);
    await fetcher.getResource('task', '2');
    expect(await metricValue('asana_stream_asana_budget_remaining_requests')).toBe(0);
    const third = track(fetcher.getResource('task', '3'));
    await jest.advanceTimersByTimeAsync(0);
    expect(await metricValue('asana_stream_asana_budget_exhausted_total')).toBe(exhaustedBefore + 1);
    await jest.advanceTimersByTimeAsync(10_300);

    expect(third).toMatchObject({ settled: true, value: task('3') });
    expect(await metricValue('asana_stream_asana_budget_remaining_requests')).toBe(1);
  });
});

/** The one value of a metric without labels, as the registry serves it. */
async function metricValue(name: string): Promise<number> {
  const metric = metricsRegistry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  return values.reduce((sum, sample) => sum + sample.value, 0);
}

describe('PacedResourceFetcher: live traffic first', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** A budget of one request per 10-second window, and a log of what reached Asana, in order. */
  function oneAWindow() {
    const asked: string[] = [];
    const client = {
      getResource: jest.fn<ReturnType<GetResource>, Parameters<GetResource>>((_type, gid) => {
        asked.push(`enrich ${gid}`);
        return Promise.resolve(task(gid));
      }),
    };
    const reconcile = (name: string) => () => {
      asked.push(name);
      return Promise.resolve(name);
    };
    return { fetcher: new PacedResourceFetcher(client, 6), asked, reconcile };
  }

  it('lets a reconciliation request go only once no enrichment fetch waits, even one that came later', async () => {
    const { fetcher, asked, reconcile } = oneAWindow();
    const fetches = [track(fetcher.getResource('task', 'a')), track(fetcher.getResource('task', 'b'))];
    const repair = track(fetcher.run(reconcile('resync'), { purpose: 'resync' }));
    await jest.advanceTimersByTimeAsync(1_000);
    fetches.push(track(fetcher.getResource('task', 'c')));
    await jest.advanceTimersByTimeAsync(40_000);
    expect(asked).toEqual(['enrich a', 'enrich b', 'enrich c', 'resync']);
    expect([...fetches, repair].every((state) => state.settled)).toBe(true);
    expect(repair.value).toBe('resync');
  });

  it('goes without waiting when no enrichment fetch waits', async () => {
    const { fetcher, asked, reconcile } = oneAWindow();
    const repair = track(fetcher.run(reconcile('events'), { purpose: 'events' }));
    await jest.advanceTimersByTimeAsync(0);
    expect(repair).toMatchObject({ settled: true, value: 'events' });
    expect(asked).toEqual(['events']);
  });

  it('is not starved: after 30 s of waiting it takes its turn ahead of live fetches that come later', async () => {
    const { fetcher, asked, reconcile } = oneAWindow();
    for (let n = 0; n < 10; n++) void fetcher.getResource('task', `early${n}`);
    const repair = track(fetcher.run(reconcile('resync'), { purpose: 'resync' }));
    await jest.advanceTimersByTimeAsync(31_000);
    expect(asked).not.toContain('resync');
    for (let n = 0; n < 3; n++) void fetcher.getResource('task', `late${n}`);
    await jest.advanceTimersByTimeAsync(200_000);
    expect(repair).toMatchObject({ settled: true, value: 'resync' });
    expect(asked.indexOf('resync')).toBe(10);
    expect(asked.slice(11)).toEqual(['enrich late0', 'enrich late1', 'enrich late2']);
  });

  it('ends a reconciliation request waiting behind live traffic at once on shutdown', async () => {
    const { fetcher, asked, reconcile } = oneAWindow();
    void fetcher.getResource('task', 'a').catch(() => undefined);
    void fetcher.getResource('task', 'b').catch(() => undefined);
    const repair = track(fetcher.run(reconcile('resync'), { purpose: 'resync' }));
    await jest.advanceTimersByTimeAsync(1_000);
    fetcher.beforeApplicationShutdown();
    await jest.advanceTimersByTimeAsync(0);
    expect(repair).toMatchObject({ settled: true, error: aborted });
    expect(asked).not.toContain('resync');
  });
});
