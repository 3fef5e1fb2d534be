/**
 * kafkajs 2.2.4's own modules that libs/kafka's fixes read or replace, and their tests and the
 * encoding benchmark drive: kafkajs exports none of them, so they are required by their files.
 */
export const KAFKAJS_MODULES = {
  encoder: 'kafkajs/src/protocol/encoder',
  /** The record encoder; only the produce request loads it. */
  record: 'kafkajs/src/protocol/recordBatch/record/v0',
  /** The record batch encoder, the one user of the CRC; produce and fetch requests load it. */
  recordBatch: 'kafkajs/src/protocol/recordBatch/v0',
  crc32c: 'kafkajs/src/protocol/recordBatch/crc32C',
  /** kafkajs' 64-bit integer, of a produce request's producer id and timestamps. */
  long: 'kafkajs/src/utils/long',
  /** The produce request of versions 3 to 7, loaded on a client's first produce. */
  produceRequest: 'kafkajs/src/protocol/requests/produce/v3/request',
} as const;

/** The module registry a fix reads and changes: `require` of a module that loads kafkajs. */
export type ModuleRequire = Pick<NodeJS.Require, 'resolve' | 'cache'> & ((id: string) => unknown);

type KafkajsProduceV3 = (options: Record<string, unknown>) => { encode(): Promise<{ buffer: Buffer }> };

/**
 * The bytes of an acks=-1 produce request of `topicData` (kafkajs' `topicData`: topics, their
 * partitions and messages), as encoded by the kafkajs that `load` loads.
 */
export async function encodeKafkajsProduceRequest(
  load: (id: string) => unknown,
  topicData: unknown[],
): Promise<Buffer> {
  const produceV3 = load(KAFKAJS_MODULES.produceRequest) as KafkajsProduceV3;
  return (await produceV3({ acks: -1, timeout: 30_000, topicData }).encode()).buffer;
}

/** The module exports `replaceKafkajsModule` has put in place, in any registry. */
const replacements = new WeakSet<object>();

/**
 * Puts `make(released)` in place of kafkajs' module `id` (its exports, `released`) in the module
 * registry `moduleRequire` loads kafkajs from, once, and answers whether it is in place. kafkajs
 * keeps what a module of it required when that module loaded, so the replacement is made only
 * while none of `keptBy` (the modules that would keep the released one) has loaded there, and
 * only when `isReleased` recognises the exports as the ones the replacement was written for and
 * `make` makes one (undefined: it cannot here). Otherwise kafkajs is left as it is.
 */
export function replaceKafkajsModule(
  moduleRequire: ModuleRequire,
  id: string,
  options: {
    keptBy: readonly string[];
    isReleased: (exports: unknown) => boolean;
    make: (released: unknown) => object | undefined;
  },
): boolean {
  const path = moduleRequire.resolve(id);
  const current = moduleRequire(path) as object;
  if (replacements.has(current)) return true;
  const cached = moduleRequire.cache[path];
  if (
    cached?.exports !== current ||
    options.keptBy.some((keeper) => moduleRequire.cache[moduleRequire.resolve(keeper)] !== undefined) ||
    !options.isReleased(current)
  ) {
    return false;
  }
  const replacement = options.make(current);
  if (replacement === undefined) return false;
  replacements.add(replacement);
  cached.exports = replacement;
  return true;
}
