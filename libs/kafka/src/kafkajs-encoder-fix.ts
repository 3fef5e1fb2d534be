import { KAFKAJS_MODULES } from './kafkajs-modules';

/** kafkajs' protocol encoder (kafkajs 2.2.4, `src/protocol/encoder`), as far as this fix reads and replaces it. */
interface EncoderInternals {
  buf: Buffer;
  offset: number;
  ensureAvailable: (this: EncoderInternals, length: number) => void;
}

export interface KafkajsEncoderClass {
  prototype: EncoderInternals;
  nextPowerOfTwo(value: number): number;
  toString(): string;
}

/** The least an encoder grows to on its first write: a record header's key and value fit. */
const FIRST_CAPACITY_BYTES = 64;

/** How many times `part` occurs in `text`. */
const count = (text: string, part: string): number => text.split(part).length - 1;

/**
 * Whether `Encoder` is kafkajs 2.2.4's, the one this fix changes: its constructor takes a
 * zero-filled buffer of `nextPowerOfTwo(initialSize)` bytes, `ensureAvailable` grows into another
 * one, and nothing else calls `nextPowerOfTwo` (its definition, the constructor, `ensureAvailable`).
 */
export function isKafkajsZeroFilledEncoder(Encoder: KafkajsEncoderClass): boolean {
  const source = Encoder.toString();
  const ensureAvailable = Encoder.prototype.ensureAvailable.toString();
  return (
    source.includes('this.buf = Buffer.alloc(Encoder.nextPowerOfTwo(initialSize))') &&
    ensureAvailable.includes('Buffer.alloc(newLength)') &&
    ensureAvailable.includes('this.buf.copy(newBuffer, 0, 0, this.offset)') &&
    count(source, 'nextPowerOfTwo(') === 3 &&
    count(source, 'Buffer.alloc(') === 2
  );
}

let fixed: boolean | undefined;

/**
 * kafkajs 2.2.4 encodes every record, every record header and every request in an `Encoder` that
 * starts with a fresh zero-filled 512-byte `Buffer.alloc` and grows into fresh zero-filled ones:
 * an `ArrayBuffer` of its own each time, where `Buffer.allocUnsafe` carves small buffers out of
 * Node's shared pool. A 1-event delivery's two records and seven headers made ingest spend about
 * 12 % of its busy time in those allocations (a CPU profile at its maximum rate).
 *
 * This makes an encoder start empty and take each larger buffer from `Buffer.allocUnsafe`, once
 * per process, before any client is made. Safe because an encoder writes its bytes in order from
 * the start and hands out only what it wrote (`buffer` is `buf` up to `offset`); the same change
 * other protocol libraries made (amqplib#695). A kafkajs whose encoder differs is left alone:
 * answers false then.
 */
export function fixKafkajsEncoderAllocation(): boolean {
  if (fixed !== undefined) return fixed;
  // kafkajs exports no such module: its path within the package is what it has been since 2018.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const Encoder = require(KAFKAJS_MODULES.encoder) as KafkajsEncoderClass;
  fixed = isKafkajsZeroFilledEncoder(Encoder);
  if (fixed) {
    const nextPowerOfTwo = Encoder.nextPowerOfTwo.bind(Encoder);
    Encoder.prototype.ensureAvailable = function ensureAvailable(this: EncoderInternals, length: number): void {
      const needed = this.offset + length;
      if (needed <= this.buf.length) return;
      const grown = Buffer.allocUnsafe(Math.max(FIRST_CAPACITY_BYTES, nextPowerOfTwo(needed)));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    };
    // Only the constructor still calls it: nothing else in kafkajs 2.2.4 does (the class is
    // checked above; no other module of the package names it). A new encoder's buffer is then
    // empty, and its first write takes one from the pool.
    Encoder.nextPowerOfTwo = () => 0;
  }
  return fixed;
}
