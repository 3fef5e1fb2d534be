import { KAFKAJS_MODULES, replaceKafkajsModule, type ModuleRequire } from './kafkajs-modules';

/** A CRC-32C (Castagnoli) of a buffer, as an unsigned 32-bit number: what a record batch carries. */
export type Crc32c = (input: Buffer) => number;

/** @node-rs/crc32, required rather than imported: it throws on load where its binary is missing. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadNodeRsCrc32 = (): unknown => require('@node-rs/crc32');

/**
 * @node-rs/crc32's `crc32c`: native, with the CPU's CRC-32C instructions where it has them.
 * Undefined where its binary for this platform is not installed (npm installs only the one of
 * the platform, from optional packages a registry may not serve every day), or does not load.
 */
export function nativeCrc32c(load: () => unknown = loadNodeRsCrc32): Crc32c | undefined {
  try {
    const { crc32c } = load() as { crc32c?: unknown };
    return typeof crc32c === 'function' ? (crc32c as Crc32c) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `crc` is kafkajs 2.2.4's CRC-32C (`src/protocol/recordBatch/crc32C`), in JavaScript. */
export function isKafkajsCrc32c(crc: unknown): boolean {
  return typeof crc === 'function' && String(crc).includes('unsigned(crc32C(buffer))');
}

/**
 * Puts a native CRC-32C (`nativeCrc32c`) in place of kafkajs' JavaScript one, which computes a
 * CRC over every record batch a producer sends at about 420 MB/s on the benchmarks' machine, about
 * a tenth of ingest's CPU on 10-event deliveries (`docs/benchmarks.md`). Like
 * `fixKafkajsRecordEncoding`, it must run before kafkajs loads its record batch encoder (on the
 * first produce or fetch), in the module registry that loads kafkajs. Leaves kafkajs alone, and
 * answers false, without the native binary, once the record batch encoder has loaded, or when
 * kafkajs' CRC module is not the one it knows.
 */
export function fixKafkajsCrc32c(
  moduleRequire: ModuleRequire = require,
  loadNative: () => Crc32c | undefined = nativeCrc32c,
): boolean {
  return replaceKafkajsModule(moduleRequire, KAFKAJS_MODULES.crc32c, {
    keptBy: [KAFKAJS_MODULES.recordBatch],
    isReleased: isKafkajsCrc32c,
    make: () => loadNative(),
  });
}
