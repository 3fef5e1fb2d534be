import type { AsanaResource } from '@asana-stream/asana';
import { TopicNames, type AsanaEventEnvelope } from '@asana-stream/contracts';
import { asanaErrorForStatus } from '@asana-stream/asana';
import { AsanaStreamError } from '@asana-stream/errors';
import type { KafkaPublisher } from '@asana-stream/kafka';
import { asanaTaskEvent } from '@asana-stream/testing';
import { EnrichEventService, type FetchOptions, type ResourceFetcher } from './enrich-event.service';

const envelope: AsanaEventEnvelope = {
  eventId: 'e1',
  source: 'webhook',
  subscriptionId: 's1',
  deliveryId: 'd1',
  receivedAt: '2026-11-22T10:00:01.000Z',
  event: asanaTaskEvent(),
};
const state: AsanaResource = { gid: '1200', resource_type: 'task', modified_at: '2026-11-22T10:00:00.000Z' };

function service(getResource: ResourceFetcher['getResource']) {
  const publish = jest.fn<Promise<void>, Parameters<KafkaPublisher['publish']>>(() => Promise.resolve());
  const enrich = new EnrichEventService(
    { getResource },
    { publish } as unknown as KafkaPublisher,
    new TopicNames('t.'),
  );
  return { enrich, publish };
}

describe('EnrichEventService', () => {
  it("hands the consumer's heartbeat and signal to the fetch, and publishes the state", async () => {
    let given: FetchOptions | undefined;
    const { enrich, publish } = service((_type, _gid, _fields, options) => {
      given = options;
      return Promise.resolve(state);
    });
    const heartbeat = () => Promise.resolve();
    const { signal } = new AbortController();

    await expect(enrich.enrich(envelope, { heartbeat, signal })).resolves.toBe('state');

    expect(given).toEqual({ whileWaiting: heartbeat, signal, onRequest: expect.any(Function) });
    expect(publish).toHaveBeenCalledTimes(1);
  });

  it('still takes a bare heartbeat as its second argument', async () => {
    let given: FetchOptions | undefined;
    const { enrich } = service((_type, _gid, _fields, options) => {
      given = options;
      return Promise.resolve(state);
    });
    const heartbeat = () => Promise.resolve();

    await enrich.enrich(envelope, heartbeat);

    expect(given).toEqual({ whileWaiting: heartbeat, signal: undefined, onRequest: expect.any(Function) });
  });

  it('publishes nothing and rejects with ABORTED (retry) when the fetch was cancelled', async () => {
    const cancelled = new AsanaStreamError('ABORTED', "waiting for Asana's API: cancelled");
    const { enrich, publish } = service(() => Promise.reject(cancelled));

    await expect(enrich.enrich(envelope, { signal: AbortSignal.abort() })).rejects.toBe(cancelled);

    expect(cancelled.disposition).toBe('retry');
    expect(publish).not.toHaveBeenCalled();
  });

  describe('a tombstone (the API answered 404)', () => {
    beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-11-22T10:00:05.000Z') }));
    afterEach(() => jest.useRealTimers());

    const notFound = () => asanaErrorForStatus(404, 'GET /tasks/1200 → 404', null);
    const published = (publish: ReturnType<typeof service>['publish']) =>
      JSON.parse(String(publish.mock.calls[0][0][0].messages[0].value)) as Record<string, unknown>;

    it('is versioned by the last ms before the request that was answered, not by the answer', async () => {
      const { enrich, publish } = service(async (_type, _gid, _fields, options) => {
        jest.setSystemTime(Date.parse('2026-11-22T10:00:07.000Z')); // waited for the pacer
        options?.onRequest?.();
        jest.setSystemTime(Date.parse('2026-11-22T10:00:07.003Z')); // the answer took 3 ms
        return Promise.reject(notFound());
      });

      await expect(enrich.enrich(envelope)).resolves.toBe('tombstone');

      expect(published(publish)).toMatchObject({
        version: Date.parse('2026-11-22T10:00:07.000Z') - 1,
        versionSource: 'fetched_at',
        deleted: true,
        fetchedAt: '2026-11-22T10:00:07.003Z',
        eventAt: envelope.event.created_at,
      });
    });

    it('falls back to the time before the fetch when the fetcher reports no request', async () => {
      const { enrich, publish } = service(() => {
        jest.setSystemTime(Date.parse('2026-11-22T10:00:07.003Z'));
        return Promise.reject(notFound());
      });

      await enrich.enrich(envelope);

      expect(published(publish)).toMatchObject({ version: Date.parse('2026-11-22T10:00:05.000Z') - 1, deleted: true });
    });
  });
});
