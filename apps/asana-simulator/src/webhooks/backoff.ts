/**
 * Delay before retry number `failures` (1 for the first retry) of a failed delivery: exponential
 * from `baseMs`, capped at `maxMs`. Asana documents exponential backoff but not its intervals.
 */
export function retryDelayMs(failures: number, baseMs: number, maxMs: number): number {
  const exponent = Math.max(0, failures - 1);
  return Math.min(maxMs, baseMs * 2 ** Math.min(exponent, 52));
}
