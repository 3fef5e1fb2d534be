/**
 * kafkajs' own modules, as the tests of libs/kafka's kafkajs fixes drive them: kafkajs exports
 * none of them, so they are required by their files in kafkajs 2.2.4.
 */

/** The produce request module (v3, which requests v3 to v7 use): it loads the record batch and record encoders. */
export const KAFKAJS_PRODUCE_REQUEST_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request';

export interface KafkajsProduceRequest {
  encode(): Promise<{ buffer: Buffer }>;
}

/** The produce request module's export: a request of the given topics' messages. */
export type KafkajsProduceV3 = (options: Record<string, unknown>) => KafkajsProduceRequest;

/** A module registry's `require`. */
export type ModuleLoader = NodeJS.Require;

/** The bytes of an idempotent, acks=-1 produce request of `topicData`, encoded by the kafkajs `load` loads. */
export async function encodeProduceRequest(load: ModuleLoader, topicData: unknown[]): Promise<Buffer> {
  const produceV3 = load(KAFKAJS_PRODUCE_REQUEST_MODULE) as KafkajsProduceV3;
  return (await produceV3({ acks: -1, timeout: 30_000, topicData }).encode()).buffer;
}

/**
 * Runs `work` in a module registry of its own, as a process starts: kafkajs not yet loaded, so
 * nothing produced or fetched. `work` gets that registry's `require` (with its `resolve` and
 * `cache`, as libs/kafka's fixes take it); the test's registry outside is left as it was.
 */
export async function inFreshModuleRegistry<T>(work: (load: ModuleLoader) => Promise<T>): Promise<T> {
  let result: T | undefined;
  await jest.isolateModulesAsync(async () => {
    result = await work(require);
  });
  return result as T;
}
