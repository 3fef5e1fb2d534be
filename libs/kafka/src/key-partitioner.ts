import { Partitioners, type ICustomPartitioner } from 'kafkajs';
import murmurhash from 'murmurhash';

/** The seed of the Java client's `Utils.murmur2`, which kafkajs' default partitioner follows. */
const KAFKA_MURMUR2_SEED = 0x9747b28c;

/** The Java client's `toPositive`: the hash's low 31 bits. */
const toPositive = (hash: number): number => hash & 0x7fffffff;

/**
 * kafkajs' default partitioner, partition for partition: a keyed message goes to
 * `toPositive(murmur2(key)) % partitions`, as from the Java client, so a gid keeps its partition
 * whichever client wrote it. Only the hash differs in how it is computed: kafkajs' murmur2 does
 * its 32-bit products in `Long` objects, about 7 µs a gid; in a profile of ingest's benchmark it
 * took 8.5 % of the CPU (every message is hashed when sent, and again when its delivery's size is
 * checked). `murmurhash`'s MurmurHash2 over the key's UTF-8 bytes is the same function in 32-bit
 * integer arithmetic (the unit test compares the two over random keys of every kind). Messages
 * with an explicit partition, or without a key, go to kafkajs' own logic (round robin).
 */
export const KeyPartitioner: ICustomPartitioner = () => {
  const kafkajsDefault = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key === null || message.key === undefined) return kafkajsDefault(args);
    const bytes = Buffer.isBuffer(message.key) ? message.key : Buffer.from(String(message.key));
    return toPositive(murmurhash.v2(bytes, KAFKA_MURMUR2_SEED)) % partitionMetadata.length;
  };
};
