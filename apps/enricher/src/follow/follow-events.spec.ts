import { asanaEventId, type AsanaEvent, type EventsAnswer } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import type { FoundDivergence } from '@asana-stream/db';
import { asanaTaskEvent } from '@asana-stream/testing';
import type { PollProgress } from './event-streams.repository';
import { EXPIRED_REASON, FIRST_READ_REASON, MAX_PAGES_PER_POLL, pollStream, type FollowDeps } from './follow-events';

const HOLDER = 'replica-1';
const NOW = new Date('2026-11-22T12:00:00.000Z');

function taskEvent(gid: string, createdAt: string, extra: Partial<AsanaEvent> = {}): AsanaEvent {
  const base = asanaTaskEvent();
  return { ...base, created_at: createdAt, resource: { ...base.resource, gid }, ...extra };
}

/** An Asana, a table and a topic in memory, recording what the poll did to each in order. */
function fakes(answers: EventsAnswer[], versions: Record<string, number> = {}, { leaseHeld = true } = {}) {
  const calls: string[] = [];
  const published: AsanaEventEnvelope[] = [];
  const saved: PollProgress[] = [];
  const restarts: { sync: string; reason: string }[] = [];
  const divergences: FoundDivergence[] = [];
  const deps: FollowDeps = {
    readEvents: (resource, sync) => {
      calls.push(`read ${resource} ${sync ?? '-'}`);
      const answer = answers.shift();
      if (!answer) throw new Error('no more answers');
      return Promise.resolve(answer);
    },
    streams: {
      advance: (_gid, holder, progress) => {
        expect(holder).toBe(HOLDER);
        calls.push(`save ${progress.syncToken}`);
        saved.push(progress);
        return Promise.resolve(leaseHeld);
      },
      restart: (_gid, _holder, sync, reason) => {
        calls.push(`restart ${sync}`);
        restarts.push({ sync, reason });
        return Promise.resolve(leaseHeld);
      },
      projectedVersions: (gids) =>
        Promise.resolve(new Map(gids.filter((g) => g in versions).map((g) => [g, versions[g]]))),
    },
    publish: (envelopes) => {
      calls.push(`publish ${envelopes.length}`);
      published.push(...envelopes);
      return Promise.resolve();
    },
    recordDivergences: (found) => {
      calls.push(`diverged ${found.length}`);
      divergences.push(...found);
      return Promise.resolve();
    },
    now: () => NOW,
  };
  return { deps, calls, published, saved, restarts, divergences };
}

const signal = new AbortController().signal;

describe('pollStream', () => {
  it('takes the first 412 as the place to start, and asks for a resync of what came before', async () => {
    const { deps, calls, restarts } = fakes([{ kind: 'expired', sync: 's1' }]);
    const outcome = await pollStream({ resourceGid: 'p1', syncToken: null, pollsFailed: 0 }, HOLDER, deps, signal);
    expect(outcome).toEqual({ kind: 'restarted', reason: FIRST_READ_REASON });
    expect(calls).toEqual(['read p1 -', 'restart s1']);
    expect(restarts).toEqual([{ sync: 's1', reason: FIRST_READ_REASON }]);
  });

  it('restarts from a fresh token when Asana no longer knows the saved one', async () => {
    const { deps, restarts } = fakes([{ kind: 'expired', sync: 's9' }]);
    const outcome = await pollStream({ resourceGid: 'p1', syncToken: 'old', pollsFailed: 0 }, HOLDER, deps, signal);
    expect(outcome).toEqual({ kind: 'restarted', reason: EXPIRED_REASON });
    expect(restarts).toEqual([{ sync: 's9', reason: EXPIRED_REASON }]);
  });

  it('publishes only what the projection does not reflect, before saving the token', async () => {
    const reflected = taskEvent('1', '2026-11-22T10:00:00.000Z');
    const newer = taskEvent('1', '2026-11-22T10:00:05.000Z');
    const unknown = taskEvent('2', '2026-11-22T10:00:01.000Z');
    const { deps, calls, published, saved, divergences } = fakes(
      [{ kind: 'events', events: [reflected, newer, unknown], sync: 's2', hasMore: false }],
      { '1': Date.parse('2026-11-22T10:00:00.000Z') },
    );
    const outcome = await pollStream({ resourceGid: 'p1', syncToken: 's1', pollsFailed: 0 }, HOLDER, deps, signal);
    expect(outcome).toEqual({ kind: 'read', pages: 1, events: 3, published: 2, more: false });
    expect(calls).toEqual(['read p1 s1', 'diverged 2', 'publish 2', 'save s2']);
    // Each recorded as a divergence of the followed resource, until the projection reaches its time.
    expect(divergences).toEqual([
      {
        gid: '1',
        type: 'task',
        resourceGid: 'p1',
        cause: 'event',
        asanaVersion: Date.parse('2026-11-22T10:00:05.000Z'),
        projectedVersion: Date.parse('2026-11-22T10:00:00.000Z'),
      },
      {
        gid: '2',
        type: 'task',
        resourceGid: 'p1',
        cause: 'event',
        asanaVersion: Date.parse('2026-11-22T10:00:01.000Z'),
        projectedVersion: null,
      },
    ]);
    expect(published.map((e) => e.event)).toEqual([newer, unknown]);
    expect(published[0]).toEqual({
      eventId: asanaEventId(newer),
      source: 'events-api',
      subscriptionId: null,
      deliveryId: null,
      receivedAt: NOW.toISOString(),
      event: newer,
    });
    expect(saved).toEqual([
      { syncToken: 's2', eventsRead: 3, eventsPublished: 2, lastEventAt: '2026-11-22T10:00:05.000Z' },
    ]);
  });

  it('gives an event the id its webhook delivery gets, whatever names the Events API adds', async () => {
    const webhookForm = taskEvent('3', '2026-11-22T10:00:00.000Z');
    const eventsApiForm = {
      ...webhookForm,
      type: 'task',
      resource: { ...webhookForm.resource, name: 'Launch' },
    } as AsanaEvent;
    const { deps, published } = fakes([{ kind: 'events', events: [eventsApiForm], sync: 's2', hasMore: false }]);
    await pollStream({ resourceGid: 'p1', syncToken: 's1', pollsFailed: 0 }, HOLDER, deps, signal);
    expect(published.map((e) => e.eventId)).toEqual([asanaEventId(webhookForm)]);
    expect(published[0].event).toEqual(webhookForm);
  });

  it('reads page after page while Asana has more, saving each page’s token after its events', async () => {
    const { deps, calls } = fakes([
      { kind: 'events', events: [taskEvent('1', '2026-11-22T10:00:00.000Z')], sync: 's2', hasMore: true },
      { kind: 'events', events: [], sync: 's3', hasMore: false },
    ]);
    const outcome = await pollStream({ resourceGid: 'p1', syncToken: 's1', pollsFailed: 0 }, HOLDER, deps, signal);
    expect(outcome).toEqual({ kind: 'read', pages: 2, events: 1, published: 1, more: false });
    expect(calls).toEqual(['read p1 s1', 'diverged 1', 'publish 1', 'save s2', 'read p1 s2', 'save s3']);
  });

  it('stops at the page cap and says more wait', async () => {
    const pages: EventsAnswer[] = Array.from({ length: MAX_PAGES_PER_POLL + 5 }, (_, n) => ({
      kind: 'events',
      events: [],
      sync: `s${n + 2}`,
      hasMore: true,
    }));
    const { deps, saved } = fakes(pages);
    const outcome = await pollStream({ resourceGid: 'p1', syncToken: 's1', pollsFailed: 0 }, HOLDER, deps, signal);
    expect(outcome).toMatchObject({ kind: 'read', pages: MAX_PAGES_PER_POLL, more: true });
    expect(saved).toHaveLength(MAX_PAGES_PER_POLL);
  });

  it('stops without going on once another replica holds the stream', async () => {
    const { deps, calls } = fakes(
      [
        { kind: 'events', events: [], sync: 's2', hasMore: true },
        { kind: 'events', events: [], sync: 's3', hasMore: false },
      ],
      {},
      { leaseHeld: false },
    );
    const outcome = await pollStream({ resourceGid: 'p1', syncToken: 's1', pollsFailed: 0 }, HOLDER, deps, signal);
    expect(outcome).toEqual({ kind: 'lease-lost' });
    expect(calls).toEqual(['read p1 s1', 'save s2']);
  });

  it('saves no token when publishing failed, so the page is read again next time', async () => {
    const { deps, saved } = fakes([
      { kind: 'events', events: [taskEvent('1', '2026-11-22T10:00:00.000Z')], sync: 's2', hasMore: false },
    ]);
    deps.publish = () => Promise.reject(new Error('Kafka is down'));
    await expect(
      pollStream({ resourceGid: 'p1', syncToken: 's1', pollsFailed: 0 }, HOLDER, deps, signal),
    ).rejects.toThrow('Kafka is down');
    expect(saved).toEqual([]);
  });

  it('publishes an event whose time does not parse rather than guessing it is reflected', async () => {
    const odd = taskEvent('1', 'not a time');
    const { deps, published } = fakes([{ kind: 'events', events: [odd], sync: 's2', hasMore: false }], { '1': 1 });
    await pollStream({ resourceGid: 'p1', syncToken: 's1', pollsFailed: 0 }, HOLDER, deps, signal);
    expect(published).toHaveLength(1);
  });
});
