import { seededInts } from './seeded-ints';

describe('seededInts', () => {
  it('repeats its sequence for a seed, and differs between seeds', () => {
    const draw = (seed: number) => Array.from({ length: 50 }, seededInts(seed).bind(null, 1000));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it.each([2, 3, 4, 9, 256])('spreads over every value below %i, each about equally often', (bound) => {
    const next = seededInts(11);
    const counts = new Array<number>(bound).fill(0);
    const draws = 20_000 * bound;
    for (let i = 0; i < draws; i++) counts[next(bound)]++;
    for (const count of counts) expect(Math.abs(count / 20_000 - 1)).toBeLessThan(0.05);
  });

  it('does not fall into a short cycle in its low values', () => {
    const next = seededInts(7);
    const pairs = new Set<string>();
    for (let i = 0; i < 4000; i++) pairs.add(`${next(4)},${next(4)}`);
    expect(pairs.size).toBe(16);
  });
});
