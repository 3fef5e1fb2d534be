import { resourceVersion } from './resource-version';

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
    ['a tombstone', null],
  ])('falls back to the fetch time for %s', (_label, resource) => {
    expect(resourceVersion(resource, fetchedAt)).toEqual({ version: fetchedAt.getTime(), versionSource: 'fetched_at' });
  });

  it('orders two modifications of one resource by modified_at', () => {
    const a = resourceVersion({ gid: '1', modified_at: '2026-11-22T11:00:00.001Z' }, fetchedAt);
    const b = resourceVersion({ gid: '1', modified_at: '2026-11-22T11:00:00.002Z' }, fetchedAt);
    expect(b.version).toBeGreaterThan(a.version);
  });
});
