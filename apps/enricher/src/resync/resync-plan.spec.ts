import { asanaEventId } from '@asana-stream/asana';
import { countByCause, divergenceOf, repairsForListing, vanishedRepair } from './resync-plan';

const AT = '2026-11-22T12:00:00.000Z';
const ms = (iso: string) => Date.parse(iso);

describe('repairsForListing', () => {
  const listed = [
    { gid: 'same', modified_at: '2026-11-22T10:00:00.000Z', resource_subtype: 'default_task' },
    { gid: 'older-stored', modified_at: '2026-11-22T10:00:05.000Z' },
    { gid: 'newer-stored', modified_at: '2026-11-22T10:00:00.000Z' },
    { gid: 'absent', modified_at: '2026-11-22T09:00:00.000Z', resource_subtype: 'milestone' },
  ];
  const versions = new Map([
    ['same', ms('2026-11-22T10:00:00.000Z')],
    ['older-stored', ms('2026-11-22T10:00:00.000Z')],
    ['newer-stored', ms('2026-11-22T11:00:00.000Z')],
  ]);

  it('corrects what the projection lacks or holds older, and nothing it holds as new or newer', () => {
    const repairs = repairsForListing(listed, 'task', versions, AT);
    expect(repairs.map((r) => [r.envelope.event.resource.gid, r.cause])).toEqual([
      ['older-stored', 'stale'],
      ['absent', 'missing'],
    ]);
  });

  it('makes each correction a changed event of the resource at its modified_at, sourced resync', () => {
    const [, missing] = repairsForListing(listed, 'task', versions, AT);
    expect(missing.envelope).toEqual({
      eventId: asanaEventId(missing.envelope.event),
      source: 'resync',
      subscriptionId: null,
      deliveryId: null,
      receivedAt: AT,
      event: {
        user: null,
        created_at: '2026-11-22T09:00:00.000Z',
        action: 'changed',
        resource: { gid: 'absent', resource_type: 'task', resource_subtype: 'milestone' },
        parent: null,
      },
    });
  });

  it('gives the same stale state the same event id on every resync', () => {
    const first = repairsForListing(listed, 'task', versions, AT);
    const later = repairsForListing(listed, 'task', versions, '2026-11-23T00:00:00.000Z');
    expect(later.map((r) => r.envelope.eventId)).toEqual(first.map((r) => r.envelope.eventId));
  });

  it('treats a listing without a usable modified_at as stale, timed at the resync', () => {
    const [repair] = repairsForListing([{ gid: 'same' }], 'task', versions, AT);
    expect(repair.cause).toBe('stale');
    expect(repair.envelope.event.created_at).toBe(AT);
  });
});

describe('vanishedRepair', () => {
  it('is a changed event of the resource now, so its fetch gives its tombstone or new state', () => {
    const repair = vanishedRepair('9', 'task', 'default_task', AT);
    expect(repair.cause).toBe('vanished');
    expect(repair.envelope.event).toEqual({
      user: null,
      created_at: AT,
      action: 'changed',
      resource: { gid: '9', resource_type: 'task', resource_subtype: 'default_task' },
      parent: null,
    });
    expect(vanishedRepair('9', 'project', null, AT).envelope.event.resource).toEqual({
      gid: '9',
      resource_type: 'project',
    });
  });
});

describe('countByCause', () => {
  it('counts every cause, zero included', () => {
    expect(countByCause([vanishedRepair('1', 'task', null, AT), vanishedRepair('2', 'task', null, AT)])).toEqual({
      missing: 0,
      stale: 0,
      vanished: 2,
    });
  });
});

describe('divergenceOf', () => {
  it("records Asana's version found and the projection's, or the projection's alone for the vanished", () => {
    const [stale] = repairsForListing(
      [{ gid: 't1', modified_at: '2026-11-22T10:00:05.000Z' }],
      'task',
      new Map([['t1', 1_000]]),
      AT,
    );
    expect(divergenceOf(stale, 'p1')).toEqual({
      gid: 't1',
      type: 'task',
      resourceGid: 'p1',
      cause: 'stale',
      asanaVersion: ms('2026-11-22T10:00:05.000Z'),
      projectedVersion: 1_000,
    });
    expect(divergenceOf(vanishedRepair('t2', 'task', null, AT, 7), 'p1')).toMatchObject({
      cause: 'vanished',
      asanaVersion: null,
      projectedVersion: 7,
    });
  });
});

describe('repairsForListing of resources without modified_at (stories)', () => {
  it('repairs only the ones the projection lacks, whatever version it holds of the others', () => {
    const repairs = repairsForListing(
      [{ gid: 'held' }, { gid: 'lacked' }],
      'story',
      new Map([['held', 1]]),
      '2026-11-22T12:00:00.000Z',
      { versioned: false },
    );
    expect(repairs.map((r) => [r.cause, r.envelope.event.resource])).toEqual([
      ['missing', { gid: 'lacked', resource_type: 'story' }],
    ]);
  });
});
