import { randomBytes } from 'node:crypto';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { KeyPartitioner } from './key-partitioner';

const metadata = (partitions: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

/** A deterministic stream of keys of every kind a producer may be given. */
function keys(count: number): (string | Buffer)[] {
  const out: (string | Buffer)[] = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', '100:48069', 'thingäöüÄÖÜ', '🚀', '中国'];
  for (let i = 0; out.length < count; i++) {
    const length = i % 37;
    switch (i % 5) {
      case 0:
        out.push(String(1_200_000_000_000_000 + i * 7919)); // a gid
        break;
      case 1:
        out.push(randomBytes(length)); // arbitrary bytes, as a Buffer key
        break;
      case 2:
        out.push(randomBytes(length).toString('latin1')); // every byte value, as text
        break;
      case 3:
        out.push(
          Array.from({ length }, (_, j) => String.fromCodePoint(0x80 + ((i * 131 + j * 977) % 0x2f000))).join(''),
        );
        break;
      default:
        out.push(randomBytes(length).toString('base64'));
    }
  }
  return out;
}

describe('KeyPartitioner', () => {
  it("places every key on the partition kafkajs' default partitioner does, for every partition count", () => {
    const ours = KeyPartitioner();
    const kafkajs = Partitioners.DefaultPartitioner();
    const sample = keys(20_000);
    for (const partitions of [1, 2, 3, 6, 7, 12, 64, 1000]) {
      const partitionMetadata = metadata(partitions);
      for (const key of sample) {
        const args = { topic: 't', partitionMetadata, message: { key, value: null } };
        expect([key, ours(args)]).toEqual([key, kafkajs(args)]);
      }
    }
  });

  it('matches the Java client for its published example (kafkajs#357)', () => {
    // Key "100:48069" over 12 partitions: partition 9 from the Java producer.
    expect(
      KeyPartitioner()({ topic: 't', partitionMetadata: metadata(12), message: { key: '100:48069', value: null } }),
    ).toBe(9);
  });

  it('keeps an explicit partition, and hashes a key given as a Buffer like the same text', () => {
    const partitioner = KeyPartitioner();
    const partitionMetadata = metadata(6);
    expect(partitioner({ topic: 't', partitionMetadata, message: { key: 'gid', partition: 4, value: null } })).toBe(4);
    expect(partitioner({ topic: 't', partitionMetadata, message: { key: Buffer.from('1203'), value: null } })).toBe(
      partitioner({ topic: 't', partitionMetadata, message: { key: '1203', value: null } }),
    );
  });

  it('spreads messages without a key over the partitions that have a leader, round robin', () => {
    const partitioner = KeyPartitioner();
    const partitionMetadata = metadata(4, [1]);
    const chosen = Array.from({ length: 9 }, () =>
      partitioner({ topic: 't', partitionMetadata, message: { key: null, value: null } }),
    );
    expect(new Set(chosen)).toEqual(new Set([0, 2, 3]));
    for (let i = 1; i < chosen.length; i++)
      expect([0, 2, 3].indexOf(chosen[i])).toBe(([0, 2, 3].indexOf(chosen[i - 1]) + 1) % 3);
  });
});
