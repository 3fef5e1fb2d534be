import type { IHeaders } from 'kafkajs';
import { KAFKAJS_MODULES, replaceKafkajsModule, type ModuleRequire } from './kafkajs-modules';

/** A record's bytes as kafkajs' `Encoder` (kafkajs 2.2.4, `src/protocol/encoder`) writes them. */
export interface KafkajsRecordEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  writeVarInt(value: number): KafkajsRecordEncoder;
  writeInt8(value: number): KafkajsRecordEncoder;
  writeVarLong(value: number): KafkajsRecordEncoder;
  writeVarIntString(value: string): KafkajsRecordEncoder;
  writeVarIntBytes(value: Buffer | string | null | undefined): KafkajsRecordEncoder;
}

/** The static size helpers of kafkajs' `Encoder` a record's size is computed with, and its prototype. */
export interface KafkajsEncoderStatics {
  prototype: object;
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number): number;
  sizeOfVarIntBytes(value: Buffer | string | null | undefined): number;
}

/** What kafkajs' produce request hands its record encoder for each message. */
export interface KafkajsRecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: IHeaders;
}

export type KafkajsRecord = (record: KafkajsRecordInput) => KafkajsRecordEncoder;

/**
 * Whether `record` is kafkajs 2.2.4's record encoder (`src/protocol/recordBatch/record/v0`), the
 * one this fix replaces: an encoder for the record, one more per header, copied together.
 */
export function isKafkajsRecordEncoder(record: unknown): boolean {
  if (typeof record !== 'function') return false;
  const source = String(record);
  return (
    source.includes('Object.keys(headers).flatMap(') &&
    source.includes('sizeOfHeaders(headersArray)') &&
    source.includes('.writeVarIntArray(headersArray.map(Header))')
  );
}

/**
 * kafkajs' record encoding with the same bytes and the same errors, written once: the record's
 * size is computed first (as kafkajs does for its length prefix) and every field goes with
 * kafkajs' own write methods into one buffer of exactly that size. kafkajs makes an encoder per
 * record and one per header, grows and copies them: for a record with ingest's seven raw-delivery
 * headers, about twice the CPU.
 */
export function makeKafkajsRecord(Encoder: KafkajsEncoderStatics): KafkajsRecord {
  return function Record({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }) {
    // Sized in kafkajs' order, so that a field it cannot take fails the same way.
    const headerNames = Object.keys(headers);
    const fieldsSize =
      1 + // attributes
      Encoder.sizeOfVarLong(timestampDelta) +
      Encoder.sizeOfVarInt(offsetDelta) +
      Encoder.sizeOfVarIntBytes(key) +
      Encoder.sizeOfVarIntBytes(value);
    // A header with an array value is sent as one header per item.
    let headerCount = 0;
    let headersSize = 0;
    for (const name of headerNames) {
      const keySize = Buffer.byteLength(name);
      const headerValue = headers[name];
      if (Array.isArray(headerValue)) {
        for (const item of headerValue) headersSize += sizeOfHeader(Encoder, keySize, item);
        headerCount += headerValue.length;
      } else {
        headersSize += sizeOfHeader(Encoder, keySize, headerValue as Buffer | string);
        headerCount++;
      }
    }
    const sizeOfBody = fieldsSize + Encoder.sizeOfVarInt(headerCount) + headersSize;
    const record = Object.create(Encoder.prototype) as KafkajsRecordEncoder;
    record.buf = Buffer.allocUnsafe(Encoder.sizeOfVarInt(sizeOfBody) + sizeOfBody);
    record.offset = 0;
    record
      .writeVarInt(sizeOfBody)
      .writeInt8(0) // no record attributes are in use
      .writeVarLong(timestampDelta)
      .writeVarInt(offsetDelta)
      .writeVarIntBytes(key)
      .writeVarIntBytes(value)
      .writeVarInt(headerCount);
    for (const name of headerNames) {
      const headerValue = headers[name];
      if (Array.isArray(headerValue))
        for (const item of headerValue) record.writeVarIntString(name).writeVarIntBytes(item);
      else record.writeVarIntString(name).writeVarIntBytes(headerValue);
    }
    // Every byte is written (allocUnsafe leaves old memory in the rest): anything else is a bug here.
    if (record.offset !== record.buf.length) {
      throw new Error(`kafkajs record encoding wrote ${record.offset} bytes of the ${record.buf.length} it sized`);
    }
    return record;
  };
}

/** A header's bytes in a record, sized as kafkajs sizes it: Buffer.byteLength throws on a value that is neither (null too). */
function sizeOfHeader(Encoder: KafkajsEncoderStatics, keySize: number, value: Buffer | string): number {
  const valueSize = Buffer.byteLength(value);
  return Encoder.sizeOfVarInt(keySize) + keySize + Encoder.sizeOfVarInt(valueSize) + valueSize;
}

/**
 * Puts `makeKafkajsRecord`'s encoder in place of kafkajs 2.2.4's, for the produce request to take
 * when it first loads: kafkajs loads its request modules on first use, and the produce request
 * keeps the record encoder it found then. So this runs before any produce (`applyKafkajsFixes`,
 * which every kafkajs client here is made after), in the module registry that loads kafkajs
 * (Node's, or a Jest test file's). Leaves kafkajs alone, and answers false, when the produce
 * request has already loaded there or the record module is not the one it knows.
 */
export function fixKafkajsRecordEncoding(moduleRequire: ModuleRequire = require): boolean {
  return replaceKafkajsModule(moduleRequire, KAFKAJS_MODULES.record, {
    keptBy: [KAFKAJS_MODULES.produceRequest],
    isReleased: isKafkajsRecordEncoder,
    make: () => makeKafkajsRecord(moduleRequire(KAFKAJS_MODULES.encoder) as KafkajsEncoderStatics),
  });
}
