import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import { AsanaStreamError } from '@asana-stream/errors';
import { ConsumedBatchContext, type ConsumedMessage } from '@asana-stream/kafka';
import { asanaTaskEventEnvelope } from '@asana-stream/testing';
import type { EnrichEventService } from './enrich-event.service';
import { EventsConsumer } from './events.consumer';

const messages = (gids: string[]): ConsumedMessage<AsanaEventEnvelope>[] =>
  gids.map((gid, offset) => ({
    value: { ...asanaTaskEventEnvelope(gid), eventId: `e${offset}` },
    info: {
      topic: 'asana.events',
      partition: 0,
      offset: String(offset),
      key: gid,
      headers: {},
      attempt: 1,
      signal: new AbortController().signal,
      heartbeat: () => Promise.resolve(),
    },
  }));
const batch = () =>
  new ConsumedBatchContext([
    {
      topic: 'asana.events',
      partition: 0,
      attempt: 1,
      signal: new AbortController().signal,
      heartbeat: async () => {},
    },
  ]);

function consumer(fail: (gid: string) => Error | undefined = () => undefined) {
  const calls: string[][] = [];
  const enrichCoalesced = jest.fn((envelopes: AsanaEventEnvelope[]) => {
    calls.push(envelopes.map((e) => e.eventId));
    const error = fail(envelopes[0].event.resource.gid);
    return error ? Promise.reject(error) : Promise.resolve('state' as const);
  });
  return { consumer: new EventsConsumer({ enrichCoalesced } as unknown as EnrichEventService), calls };
}

describe('EventsConsumer', () => {
  it("enriches each gid's events of a batch once, with every event in offset order", async () => {
    const { consumer: c, calls } = consumer();
    await c.handle(messages(['1', '2', '1', '1', '3', '2']), batch());
    expect(calls.sort()).toEqual([['e0', 'e2', 'e3'], ['e1', 'e5'], ['e4']].sort());
  });

  it('fetches different gids at once', async () => {
    let inFlight = 0;
    let most = 0;
    const enrichCoalesced = async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 10));
      inFlight -= 1;
      return 'state' as const;
    };
    const c = new EventsConsumer({ enrichCoalesced } as unknown as EnrichEventService);
    await c.handle(messages(['1', '2', '3', '4', '1']), batch());
    expect(most).toBe(4);
  });

  it("publishes the other gids' states, throws the worst failure, and skips what was answered when run again", async () => {
    const rejected = new AsanaStreamError('REJECTED', 'Asana answered 400');
    const down = new AsanaStreamError('UNAVAILABLE', 'Asana is down');
    const failures = new Map<string, Error>([
      ['2', rejected],
      ['3', down],
    ]);
    const { consumer: c, calls } = consumer((gid) => failures.get(gid));
    const batchMessages = messages(['1', '2', '3', '1']);

    await expect(c.handle(batchMessages, batch())).rejects.toBe(down);
    expect(calls.sort()).toEqual([['e0', 'e3'], ['e1'], ['e2']].sort());

    // The transport retries the batch: gid 1 is not asked for again.
    failures.delete('3');
    calls.length = 0;
    await expect(c.handle(batchMessages, batch())).rejects.toBe(rejected);
    expect(calls.sort()).toEqual([['e1'], ['e2']].sort());

    // Then one message at a time (a dead-letter): only the culprit is asked for.
    calls.length = 0;
    for (const message of batchMessages) {
      const handled = c.handle([message], batch());
      if (message.info.key === '2') await expect(handled).rejects.toBe(rejected);
      else await handled;
    }
    expect(calls).toEqual([['e1']]);
  });
});
