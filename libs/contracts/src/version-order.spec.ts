import { rankVersion } from './version-order';

describe('rankVersion', () => {
  it.each([
    [undefined, 0, 'newer'],
    [undefined, 1_763_805_600_000, 'newer'],
    [10, 11, 'newer'],
    [10, 10, 'duplicate'],
    [0, 0, 'duplicate'],
    [10, 9, 'stale'],
    [1_763_805_600_001, 1_763_805_600_000, 'stale'],
  ] as const)('held %p, incoming %p: %s', (held, incoming, rank) => {
    expect(rankVersion(held, incoming)).toBe(rank);
  });
});
