import type { IHeaders } from 'kafkajs';
import type { KafkajsRecordInput, ModuleRequire } from '@asana-stream/kafka';
import { seededInts } from './seeded-ints';

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

/** Text of `length` characters: ASCII, control characters, two- and three-byte UTF-8, and astral pairs. */
function arbitraryText(next: (bound: number) => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    switch (next(5)) {
      case 0:
        out += String.fromCharCode(next(32));
        break;
      case 1:
        out += String.fromCharCode(0x80 + next(0x700));
        break;
      case 2:
        out += String.fromCharCode(0x4e00 + next(500));
        break;
      case 3:
        out += '😀';
        break;
      default:
        out += String.fromCharCode(0x20 + next(95));
    }
  }
  return out;
}

/**
 * Arbitrary records as a producer hands them to kafkajs' record encoder, the same for a `seed`:
 * keys, values and headers of each kind (text, bytes, arrays of them, null), deltas small and large.
 */
export function kafkajsRecordInputs(count: number, seed = 7): KafkajsRecordInput[] {
  const next = seededInts(seed);
  const size = () => (next(10) === 0 ? next(9000) : next(200));
  const bytesOrText = () => (next(3) === 0 ? Buffer.from(arbitraryText(next, size())) : arbitraryText(next, size()));
  return Array.from({ length: count }, () => {
    const headers: IHeaders = {};
    for (let h = next(9); h > 0; h--) {
      headers[arbitraryText(next, 1 + next(30))] = next(4) === 0 ? [bytesOrText(), bytesOrText()] : bytesOrText();
    }
    return {
      offsetDelta: next(3) === 0 ? next(2 ** 30) : next(100),
      timestampDelta: next(3) === 0 ? next(2 ** 31) * 1000 : next(2),
      key: next(6) === 0 ? null : bytesOrText(),
      value: next(8) === 0 ? null : bytesOrText(),
      ...(next(4) === 0 ? {} : { headers }),
    };
  });
}

/**
 * Expects two encodings (bytes, or the text of the error that stopped one) to be the same:
 * `Buffer#equals` first, Jest's element-by-element comparison and diff only when they differ.
 */
export function expectSameEncoding(actual: Buffer | string, expected: Buffer | string): void {
  if (Buffer.isBuffer(actual) && Buffer.isBuffer(expected) && actual.equals(expected)) return;
  expect(actual).toEqual(expected);
}
