import { seededInts } from '@asana-stream/testing';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  fixKafkajsEncoderAllocation,
  isKafkajsZeroFilledEncoder,
  type KafkajsEncoderClass,
} from './kafkajs-encoder-fix';
import { encodeKafkajsProduceRequest, KAFKAJS_MODULES } from './kafkajs-modules';

/** kafkajs' encoder, as these tests drive it. */
interface Encoder {
  buf: Buffer;
  buffer: Buffer;
  writeInt8(value: number): Encoder;
  writeInt32(value: number): Encoder;
  writeString(value: string | null): Encoder;
  writeBytes(value: Buffer | string | null): Encoder;
  writeVarIntBytes(value: Buffer | string | null): Encoder;
  writeEncoder(value: Encoder): Encoder;
}
type EncoderClass = KafkajsEncoderClass & (new () => Encoder);

// The module the fix changes and a request that uses it (not exported by kafkajs: their files).
/* eslint-disable @typescript-eslint/no-require-imports */
const Encoder = require(KAFKAJS_MODULES.encoder) as EncoderClass;
/* eslint-enable @typescript-eslint/no-require-imports */

/** A produce request's topics as ingest sends them: records with keys, values and headers, one large. */
function produceTopics(): unknown[] {
  const timestamp = 1_796_000_000_000;
  const delivery = Buffer.from(JSON.stringify({ events: [{ action: 'changed', resource: { gid: '1' } }] }));
  return [
    {
      topic: 'asana.deliveries',
      partitions: [
        {
          partition: 2,
          firstSequence: 7,
          messages: [
            {
              key: 'subscription-1',
              value: delivery,
              timestamp,
              headers: {
                subscriptionId: 'subscription-1',
                deliveryId: 'a'.repeat(32),
                receivedAt: new Date(timestamp).toISOString(),
                eventCount: '1',
                'content-type': 'application/json',
                'x-hook-signature': 'f'.repeat(64),
              },
            },
          ],
        },
      ],
    },
    {
      topic: 'asana.events',
      partitions: [
        {
          partition: 0,
          firstSequence: 0,
          messages: Array.from({ length: 20 }, (_, index) => ({
            key: String(1000 + index),
            // One value well past a pooled buffer's size (Node pools those under 4 KiB).
            value: index === 3 ? 'x'.repeat(100_000) : JSON.stringify({ index, name: `task ${index}` }),
            timestamp: timestamp + index,
            headers: index % 2 === 0 ? { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` } : undefined,
          })),
        },
      ],
    },
  ];
}

/** Arbitrary sequences of writes, the same each call (`seededInts`). */
function writeSequences(): Encoder[] {
  const encoders: Encoder[] = [];
  const next = seededInts(42);
  for (let round = 0; round < 200; round++) {
    const encoder = new Encoder();
    for (let write = 0; write < next(30); write++) {
      const size = next(5) === 0 ? next(9000) : next(40);
      switch (next(5)) {
        case 0:
          encoder.writeInt8(next(100));
          break;
        case 1:
          encoder.writeInt32(next(2 ** 30));
          break;
        case 2:
          encoder.writeString('s'.repeat(size));
          break;
        case 3:
          encoder.writeBytes(Buffer.alloc(size, next(256)));
          break;
        default:
          encoder.writeEncoder(new Encoder().writeVarIntBytes('v'.repeat(size)));
      }
    }
    encoders.push(encoder);
  }
  return encoders;
}

/** Encodings made before the fix is applied: kafkajs' own bytes. */
const released = { encoder: Encoder.prototype.ensureAvailable, nextPowerOfTwo: Encoder.nextPowerOfTwo };
let releasedRequest: Buffer;
let releasedSequences: Buffer[];

beforeAll(async () => {
  releasedRequest = Buffer.from(await encodeKafkajsProduceRequest(require, produceTopics()));
  releasedSequences = writeSequences().map((encoder) => Buffer.from(encoder.buffer));
});

describe("the fix of kafkajs' encoder allocation", () => {
  it('is needed: as released, every new encoder takes a zero-filled ArrayBuffer of its own', () => {
    expect(isKafkajsZeroFilledEncoder(Encoder)).toBe(true);
    const first = new Encoder();
    const second = new Encoder();
    expect(first.buf.length).toBe(512);
    expect(first.buf.buffer.byteLength).toBe(512);
    expect(first.buf.buffer).not.toBe(second.buf.buffer);
  });

  it('recognises kafkajs 2.2.4 and applies once; an encoder it does not know is left alone', () => {
    class OtherEncoder {
      buf = Buffer.allocUnsafe(16);
      static nextPowerOfTwo(value: number): number {
        return value;
      }
      ensureAvailable(): void {}
    }
    expect(isKafkajsZeroFilledEncoder(OtherEncoder as unknown as KafkajsEncoderClass)).toBe(false);

    expect(fixKafkajsEncoderAllocation()).toBe(true);
    expect(fixKafkajsEncoderAllocation()).toBe(true);
    expect(Encoder.prototype.ensureAvailable).not.toBe(released.encoder);
    expect(Encoder.nextPowerOfTwo).not.toBe(released.nextPowerOfTwo);
  });

  it('relies on no module of kafkajs but the encoder calling Encoder.nextPowerOfTwo', () => {
    const source = join(dirname(require.resolve('kafkajs/package.json')), 'src');
    const callers = readdirSync(source, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.js') && !file.endsWith('.spec.js'))
      .filter((file) => readFileSync(join(source, file), 'utf8').includes('nextPowerOfTwo'));
    expect(callers).toEqual([join('protocol', 'encoder.js')]);
  });

  describe('applied', () => {
    beforeAll(() => fixKafkajsEncoderAllocation());

    it('starts an encoder empty and grows it from the shared pool', () => {
      const first = new Encoder().writeString('subscriptionId');
      const second = new Encoder().writeString('deliveryId');
      expect(first.buf.length).toBe(64);
      // Slices of Node's pool: an ArrayBuffer of Buffer.poolSize bytes that many buffers share.
      expect(first.buf.buffer.byteLength).toBe(Buffer.poolSize);
      expect(second.buf.buffer.byteLength).toBe(Buffer.poolSize);
    });

    it('encodes a produce request byte for byte as kafkajs did', async () => {
      const encoded = await encodeKafkajsProduceRequest(require, produceTopics());
      expect(encoded.equals(releasedRequest)).toBe(true);
    });

    it('hands out exactly the bytes written, for any sequence of writes', () => {
      const sequences = writeSequences().map((encoder) => encoder.buffer);
      expect(sequences).toHaveLength(releasedSequences.length);
      sequences.forEach((encoded, index) => expect(encoded.equals(releasedSequences[index])).toBe(true));
    });
  });
});
