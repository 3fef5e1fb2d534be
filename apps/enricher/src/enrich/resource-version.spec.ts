import type { AsanaEvent } from '@asana-stream/asana';
import { asanaTaskEvent } from '@asana-stream/testing';
import { resourceVersion, tombstoneVersion, versionedByModifiedAt } from './resource-version';

const fetchedAt = new Date('2026-11-22T12:00:00.000Z');

describe('resourceVersion', () => {
  it("uses the resource's modified_at, in ms", () => {
    expect(resourceVersion({ gid: '1', modified_at: '2026-11-22T11:59:58.123Z' }, fetchedAt)).toEqual({
      version: Date.parse('2026-11-22T11:59:58.123Z'),
      versionSource: 'modified_at',
    });
  });

  it.each([
    ['a resource without modified_at (a story)', { gid: '1', created_at: '2026-11-22T11:00:00.000Z' }],
    ['a null modified_at', { gid: '1', modified_at: null }],
    ['an unparseable modified_at', { gid: '1', modified_at: 'yesterday' }],
  ])('falls back to the fetch time for %s', (_label, resource) => {
    expect(resourceVersion(resource, fetchedAt)).toEqual({ version: fetchedAt.getTime(), versionSource: 'fetched_at' });
  });

  it('orders two modifications of one resource by modified_at', () => {
    const a = resourceVersion({ gid: '1', modified_at: '2026-11-22T11:00:00.001Z' }, fetchedAt);
    const b = resourceVersion({ gid: '1', modified_at: '2026-11-22T11:00:00.002Z' }, fetchedAt);
    expect(b.version).toBeGreaterThan(a.version);
  });
});

describe('versionedByModifiedAt', () => {
  it.each([
    ['task', true],
    ['project', true],
    ['story', false],
    ['user', false],
  ])('%s: %s', (type, expected) => {
    expect(versionedByModifiedAt(type)).toBe(expected);
  });
});

const T0 = Date.parse('2026-11-22T12:00:00.000Z');
const date = (ms: number) => new Date(T0 + ms);
const event = (type: string, action: AsanaEvent['action'], createdAt: number) =>
  asanaTaskEvent({
    action,
    created_at: date(createdAt).toISOString(),
    resource: { gid: '1200', resource_type: type },
    change: undefined,
  });
/** A tombstone's version relative to T0. */
const tombstone = (ev: AsanaEvent, requestedAt: number, answeredAt: number) => {
  const { version, versionSource } = tombstoneVersion(ev, {
    requestedAt: date(requestedAt),
    fetchedAt: date(answeredAt),
  });
  return { version: version - T0, versionSource };
};

describe('tombstoneVersion', () => {
  it('versions a task tombstone by the last ms before the request went out, not by the answer', () => {
    expect(tombstone(event('task', 'changed', 0), 10, 13)).toEqual({ version: 9, versionSource: 'fetched_at' });
  });

  it("takes a deleted event's created_at when it is later than that (Asana's clock ahead of ours)", () => {
    expect(tombstone(event('task', 'deleted', 12), 10, 13)).toEqual({ version: 12, versionSource: 'deleted_event' });
    expect(tombstone(event('task', 'deleted', 5), 10, 13)).toEqual({ version: 9, versionSource: 'fetched_at' });
  });

  it('ignores the created_at of other actions', () => {
    expect(tombstone(event('task', 'undeleted', 12), 10, 13)).toEqual({ version: 9, versionSource: 'fetched_at' });
  });

  it('versions the tombstone of a type without modified_at by the answer time, as its live states are', () => {
    expect(tombstone(event('story', 'deleted', 12), 10, 13)).toEqual({ version: 13, versionSource: 'fetched_at' });
  });

  /**
   * Every timeline of one task on a 0..N ms grid (one clock: ours and Asana's agree), in Asana's
   * terms: `m` the last modification before the delete, `d` the delete (its modified_at and its
   * event's created_at, m < d), our request sent at `s` and decided by Asana at `g` (s ≤ g, and
   * d ≤ g since Asana answered 404), answered at `r` ≥ g, and an undelete at `u` after the
   * decision (u ≥ g, u > d: a resource's modified_at strictly increases). Asana's modified_at
   * may run ahead of the clock (the simulator's does, 1 ms per mutation within one ms), so d is
   * not bounded by s.
   */
  function* timelines(n: number) {
    for (let m = 0; m <= n; m += 1)
      for (let d = m + 1; d <= n; d += 1)
        for (let s = 0; s <= n; s += 1)
          for (let g = Math.max(s, d); g <= n; g += 1)
            for (let r = g; r <= n; r += 1)
              for (let u = Math.max(g, d + 1); u <= n + 1; u += 1) yield { m, d, s, g, r, u };
  }
  const all = [...timelines(7)];

  it('never outranks a later live state: every undelete after the 404 wins (the reported bug)', () => {
    expect(all.length).toBeGreaterThan(1_000);
    const outranked = all.flatMap((t) =>
      (['deleted', 'changed', 'undeleted'] as const).flatMap((action) => {
        const { version } = tombstone(event('task', action, action === 'deleted' ? t.d : t.m), t.s, t.r);
        return version < t.u ? [] : [{ ...t, action, version }];
      }),
    );
    expect(outranked).toEqual([]);
  });

  it("outranks every live state before the delete when it answers the delete's own event", () => {
    const lost = all.filter((t) => !(tombstone(event('task', 'deleted', t.d), t.s, t.r).version > t.m));
    expect(lost).toEqual([]);
  });

  it('outranks every live state modified before the request went out when it answers any other event', () => {
    const lost = all.filter(
      (t) => t.m < t.s - 1 && !(tombstone(event('task', 'changed', t.m), t.s, t.r).version > t.m),
    );
    expect(lost).toEqual([]);
  });
});
