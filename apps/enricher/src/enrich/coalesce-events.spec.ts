import type { AsanaEvent } from '@asana-stream/asana';
import type { AsanaEventEnvelope } from '@asana-stream/contracts';
import { AsanaStreamError } from '@asana-stream/errors';
import { asanaTaskEvent } from '@asana-stream/testing';
import { causesOf, coalesceByResource, decidingEvent, earliestEventAt, worstFailure } from './coalesce-events';
import { decideCoalescedState, decideState } from './resource-state';

let seq = 0;
function envelope(gid: string, overrides: Partial<AsanaEvent> = {}, eventId = `e${++seq}`): AsanaEventEnvelope {
  const event = asanaTaskEvent({
    resource: { gid, resource_type: 'task', resource_subtype: 'default_task' },
    ...overrides,
  });
  return {
    eventId,
    source: 'webhook',
    subscriptionId: null,
    deliveryId: null,
    receivedAt: '2026-11-22T10:00:01Z',
    event,
  };
}
const deleted = (gid: string, at: string) => envelope(gid, { action: 'deleted', created_at: at, change: undefined });
/** Each item is an envelope with its offset, as the consumer's messages are. */
const items = (envelopes: AsanaEventEnvelope[]) => envelopes.map((value, offset) => ({ value, offset }));
const plan = (envelopes: AsanaEventEnvelope[]) =>
  coalesceByResource(items(envelopes), ({ value }) => value).map(({ gid, fetches }) => ({
    gid,
    fetches: fetches.map(({ type, items: answered }) => ({ type, offsets: answered.map(({ offset }) => offset) })),
  }));

describe('coalesceByResource', () => {
  it('makes one fetch of all the events of one gid, in offset order', () => {
    const batch = Array.from({ length: 10 }, () => envelope('1'));
    expect(plan(batch)).toEqual([{ gid: '1', fetches: [{ type: 'task', offsets: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }] }]);
  });

  it('keeps several gids apart, in the order of their first event, each event in exactly one fetch', () => {
    const batch = [envelope('1'), envelope('2'), envelope('1'), envelope('3'), envelope('2'), envelope('1')];
    expect(plan(batch)).toEqual([
      { gid: '1', fetches: [{ type: 'task', offsets: [0, 2, 5] }] },
      { gid: '2', fetches: [{ type: 'task', offsets: [1, 4] }] },
      { gid: '3', fetches: [{ type: 'task', offsets: [3] }] },
    ]);
    const offsets = plan(batch).flatMap(({ fetches }) => fetches.flatMap((f) => f.offsets));
    expect(offsets.sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('keeps duplicates (the same event id twice) as messages of the one fetch', () => {
    const first = envelope('1', {}, 'same');
    expect(plan([first, envelope('2'), { ...first }])).toEqual([
      { gid: '1', fetches: [{ type: 'task', offsets: [0, 2] }] },
      { gid: '2', fetches: [{ type: 'task', offsets: [1] }] },
    ]);
  });

  it('gives a gid that changes type a fetch per run of one type, in order (never expected of Asana)', () => {
    const asProject = envelope('1', { resource: { gid: '1', resource_type: 'project' } });
    expect(plan([envelope('1'), envelope('1'), asProject, envelope('1')])).toEqual([
      {
        gid: '1',
        fetches: [
          { type: 'task', offsets: [0, 1] },
          { type: 'project', offsets: [2] },
          { type: 'task', offsets: [3] },
        ],
      },
    ]);
  });

  it('plans nothing for an empty batch', () => {
    expect(plan([])).toEqual([]);
  });
});

describe('causesOf', () => {
  it('lists every event id in order, each once', () => {
    const batch = [envelope('1', {}, 'a'), envelope('1', {}, 'b'), envelope('1', {}, 'a'), envelope('1', {}, 'c')];
    expect(causesOf(batch)).toEqual(['a', 'b', 'c']);
  });
});

describe('earliestEventAt', () => {
  const at = (created_at: string) => asanaTaskEvent({ created_at });

  it('is the earliest created_at, wherever it is, as ISO 8601 in UTC', () => {
    const events = [at('2026-11-22T10:00:05.000Z'), at('2026-11-22T11:00:01+01:00'), at('2026-11-22T10:00:09.000Z')];
    expect(earliestEventAt(events)).toBe('2026-11-22T10:00:01.000Z');
    expect(earliestEventAt([...events].reverse())).toBe('2026-11-22T10:00:01.000Z');
  });

  it('skips events without a valid time, and is undefined when none has one', () => {
    expect(earliestEventAt([at('not a time'), at('2026-11-22T10:00:05.000Z')])).toBe('2026-11-22T10:00:05.000Z');
    expect(earliestEventAt([at('not a time'), at('')])).toBeUndefined();
    expect(earliestEventAt([])).toBeUndefined();
  });
});

describe('decidingEvent', () => {
  it('is the last event when none is a delete', () => {
    const events = [envelope('1'), envelope('1', { action: 'added' }), envelope('1', { action: 'undeleted' })];
    expect(decidingEvent(events.map((e) => e.event))).toBe(events[2].event);
  });

  it('is the delete among changes, wherever it is', () => {
    for (const at of [0, 1, 2]) {
      const events = [envelope('1').event, envelope('1').event];
      const del = deleted('1', '2026-11-22T10:00:05.000Z').event;
      events.splice(at, 0, del);
      expect(decidingEvent(events)).toBe(del);
    }
  });

  it('is the latest delete by created_at, not by position', () => {
    const later = deleted('1', '2026-11-22T10:00:09.000Z').event;
    const earlier = deleted('1', '2026-11-22T10:00:05.000Z').event;
    expect(decidingEvent([later, envelope('1').event, earlier])).toBe(later);
    expect(decidingEvent([earlier, later])).toBe(later);
  });

  it('refuses an empty list', () => {
    expect(() => decidingEvent([])).toThrow();
  });
});

describe('decideCoalescedState', () => {
  const requestedAt = new Date('2026-11-22T10:00:10.000Z');
  const times = { requestedAt, fetchedAt: new Date('2026-11-22T10:00:10.050Z') };
  const task = (modifiedAt: string) => ({ gid: '1', name: 'x', modified_at: modifiedAt });
  const changed = envelope('1').event;
  const del5 = deleted('1', '2026-11-22T10:00:05.000Z').event;
  const del7 = deleted('1', '2026-11-22T10:00:07.000Z').event;
  const del12 = deleted('1', '2026-11-22T10:00:12.000Z').event;

  it('publishes the fetched state for changes alone', () => {
    expect(decideCoalescedState([changed, changed], task('2026-11-22T10:00:03.000Z'), times)).toEqual(
      decideState(changed, task('2026-11-22T10:00:03.000Z'), times),
    );
  });

  it('lets a delete among changes win over an older state the API still returns, at the latest delete', () => {
    expect(decideCoalescedState([changed, del5, changed, del7], task('2026-11-22T10:00:03.000Z'), times)).toEqual({
      version: Date.parse('2026-11-22T10:00:07.000Z'),
      versionSource: 'deleted_event',
      deleted: true,
      state: null,
    });
  });

  it('lets a state modified after every delete (an undelete) win', () => {
    const undeleted = task('2026-11-22T10:00:08.000Z');
    expect(decideCoalescedState([del5, del7, changed], undeleted, times)).toEqual({
      version: Date.parse('2026-11-22T10:00:08.000Z'),
      versionSource: 'modified_at',
      deleted: false,
      state: undeleted,
    });
  });

  it("versions a 404's tombstone by the latest delete when that is after the request, else just before the request", () => {
    expect(decideCoalescedState([del5, changed, del12], null, times)).toEqual({
      version: Date.parse('2026-11-22T10:00:12.000Z'),
      versionSource: 'deleted_event',
      deleted: true,
      state: null,
    });
    expect(decideCoalescedState([changed, del5, del7], null, times)).toEqual({
      version: requestedAt.getTime() - 1,
      versionSource: 'fetched_at',
      deleted: true,
      state: null,
    });
  });

  it('gives, for one event, what decideState gives', () => {
    for (const event of [changed, del5, del12]) {
      for (const fetched of [null, task('2026-11-22T10:00:06.000Z')]) {
        expect(decideCoalescedState([event], fetched, times)).toEqual(decideState(event, fetched, times));
      }
    }
  });
});

describe('worstFailure', () => {
  const halt = new AsanaStreamError('UNAUTHORIZED', 'refused');
  const retry = new AsanaStreamError('UNAVAILABLE', 'down');
  const deadLetter = new AsanaStreamError('REJECTED', '400');

  it('is undefined without failures', () => {
    expect(worstFailure([])).toBeUndefined();
  });

  it('prefers a halt over a retry over a dead-letter, whatever their order', () => {
    expect(worstFailure([deadLetter, retry, halt])).toBe(halt);
    expect(worstFailure([halt, deadLetter, retry])).toBe(halt);
    expect(worstFailure([deadLetter, retry])).toBe(retry);
    expect(worstFailure([deadLetter])).toBe(deadLetter);
  });

  it('classifies what is not ours', () => {
    expect(worstFailure([new TypeError('bug')])?.code).toBeDefined();
  });
});
