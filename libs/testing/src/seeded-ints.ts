/**
 * Integers from 0 to `bound` (exclusive) in a sequence fixed by `seed`, the same every run, for
 * tests that try many generated inputs. A 32-bit linear congruential generator (Numerical Recipes'
 * constants) in exact integer arithmetic, read from its high bits: computed in floating point its
 * state loses its low bits, and an LCG's low bits repeat with short periods anyway.
 */
export function seededInts(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return Math.floor((state / 2 ** 32) * bound);
  };
}
