/**
 * `work`, or a rejection with `timeoutError()` once `ms` have passed without it settling. `work`
 * itself goes on: a Kafka send or a query cannot be called back, only no longer waited for.
 */
export function within<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), Math.max(0, ms));
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
