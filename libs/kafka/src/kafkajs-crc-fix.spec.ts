import { inFreshModuleRegistry, seededInts } from '@asana-stream/testing';
import { fixKafkajsCrc32c, isKafkajsCrc32c, nativeCrc32c, type Crc32c } from './kafkajs-crc-fix';
import { encodeKafkajsProduceRequest, KAFKAJS_MODULES } from './kafkajs-modules';

// kafkajs' own modules, as released (not exported by kafkajs: their files).
/* eslint-disable @typescript-eslint/no-require-imports */
const releasedCrc32c = require(KAFKAJS_MODULES.crc32c) as Crc32c;
/* eslint-enable @typescript-eslint/no-require-imports */

/** Buffers of every length up to 70 bytes, then larger ones, of bytes from a fixed sequence. */
function buffers(): Buffer[] {
  const next = seededInts(11);
  const byte = () => next(256);
  const lengths = [...Array.from({ length: 71 }, (_, length) => length), 255, 256, 1023, 4096, 65_537, 1_000_003];
  return lengths.map((length) => Buffer.from(Array.from({ length }, byte)));
}

/** A produce request's topics, with record batches of several sizes. */
function produceTopics(): unknown[] {
  const timestamp = 1_796_000_000_000;
  return [
    {
      topic: 'asana.events',
      partitions: [0, 1, 2].map((partition) => ({
        partition,
        firstSequence: partition * 10,
        messages: Array.from({ length: 1 + partition * 40 }, (_, index) => ({
          key: String(1000 + index),
          value: 'v'.repeat(index * 37),
          timestamp: timestamp + index,
        })),
      })),
    },
  ];
}

describe("the fix of kafkajs' CRC-32C", () => {
  const native = nativeCrc32c();

  it("recognises kafkajs 2.2.4's CRC module, and nothing else", () => {
    expect(isKafkajsCrc32c(releasedCrc32c)).toBe(true);
    expect(isKafkajsCrc32c((buffer: Buffer) => buffer.length)).toBe(false);
    expect(isKafkajsCrc32c('unsigned(crc32C(buffer))')).toBe(false);
  });

  // The binary comes from an optional package of this platform's that the registry serves today;
  // without it the fix stands aside (below) and kafkajs keeps its own CRC.
  it("computes kafkajs' CRC-32C for any buffer, unsigned, where its binary installed", async () => {
    if (native === undefined) {
      await inFreshModuleRegistry(async (load) => expect(fixKafkajsCrc32c(load)).toBe(false));
      return;
    }
    for (const buffer of buffers()) expect(native(buffer)).toBe(releasedCrc32c(buffer));
    // The check value of CRC-32C (RFC 3720, B.4): "123456789".
    expect(native(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('is none where the native binary does not load', () => {
    expect(
      nativeCrc32c(() => {
        throw new Error('Cannot find native binding');
      }),
    ).toBeUndefined();
    expect(nativeCrc32c(() => ({}))).toBeUndefined();
  });

  describe('put in place', () => {
    // The native CRC, or kafkajs' own where the binary is missing: how it is put in place is the same.
    const crc32c = () => native ?? ((buffer: Buffer) => releasedCrc32c(buffer));
    let released: Buffer;
    beforeAll(async () => {
      released = await encodeKafkajsProduceRequest(require, produceTopics());
    });

    it('takes the place of kafkajs CRC before the record batch encoder loads, once', async () => {
      await inFreshModuleRegistry(async (load) => {
        expect(fixKafkajsCrc32c(load, crc32c)).toBe(true);
        expect(fixKafkajsCrc32c(load, crc32c)).toBe(true);
        expect(isKafkajsCrc32c(load(KAFKAJS_MODULES.crc32c))).toBe(false);
        expect((await encodeKafkajsProduceRequest(load, produceTopics())).equals(released)).toBe(true);
      });
      // This file's registry is left as it was.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(isKafkajsCrc32c(require(KAFKAJS_MODULES.crc32c))).toBe(true);
    });

    it('leaves kafkajs alone once the record batch encoder has loaded with its own', async () => {
      await inFreshModuleRegistry(async (load) => {
        load(KAFKAJS_MODULES.recordBatch);
        expect(fixKafkajsCrc32c(load, crc32c)).toBe(false);
        expect(isKafkajsCrc32c(load(KAFKAJS_MODULES.crc32c))).toBe(true);
      });
    });

    it("leaves kafkajs' CRC in place without the native binary", async () => {
      await inFreshModuleRegistry(async (load) => {
        expect(fixKafkajsCrc32c(load, () => undefined)).toBe(false);
        expect(isKafkajsCrc32c(load(KAFKAJS_MODULES.crc32c))).toBe(true);
      });
    });
  });
});
