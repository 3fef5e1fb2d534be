import type { ModuleRequire } from '@asana-stream/kafka';

/**
 * Runs `work` in a module registry of its own, as a process starts: kafkajs not yet loaded, so
 * nothing produced or fetched. `work` gets that registry's `require` (with its `resolve` and
 * `cache`, as libs/kafka's kafkajs fixes take it); the test's registry outside is left as it was.
 */
export async function inFreshModuleRegistry<T>(work: (load: ModuleRequire) => Promise<T>): Promise<T> {
  let result: T | undefined;
  await jest.isolateModulesAsync(async () => {
    result = await work(require);
  });
  return result as T;
}
