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
