import type { AsanaResource } from '@asana-stream/asana';
import { TopicNames, type AsanaEventEnvelope } from '@asana-stream/contracts';
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

    expect(given).toEqual({ whileWaiting: heartbeat, signal });
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

    expect(given).toEqual({ whileWaiting: heartbeat, signal: undefined });
  });

  it('publishes nothing and rejects with ABORTED (retry) when the fetch was cancelled', async () => {
    const cancelled = new AsanaStreamError('ABORTED', "waiting for Asana's API: cancelled");
    const { enrich, publish } = service(() => Promise.reject(cancelled));

    await expect(enrich.enrich(envelope, { signal: AbortSignal.abort() })).rejects.toBe(cancelled);

    expect(cancelled.disposition).toBe('retry');
    expect(publish).not.toHaveBeenCalled();
  });
});
