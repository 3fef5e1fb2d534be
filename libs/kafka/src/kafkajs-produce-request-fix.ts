import type { IHeaders } from 'kafkajs';
import { KAFKAJS_MODULES, replaceKafkajsModule, type ModuleRequire } from './kafkajs-modules';

/** kafkajs' 64-bit integer (kafkajs 2.2.4, `src/utils/long`), as far as this fix writes one. */
interface KafkajsLong {
  getHighBits(): number;
  getLowBits(): number;
}

/** The statics of kafkajs' `Long` this fix reads. */
export interface KafkajsLongStatics {
  fromValue(value: unknown): KafkajsLong;
  fromInt(value: number): unknown;
}

/** kafkajs' `Encoder` (`src/protocol/encoder`), as far as this fix uses it. */
export interface KafkajsProduceEncoderStatics {
  prototype: object;
  new (): { writeVarLong(value: unknown): { buffer: Buffer } };
  sizeOfVarLong(value: unknown): number;
}

/** A message of a produce request, as kafkajs' producer hands it over. */
interface ProduceMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: IHeaders;
  timestamp?: number | string;
}

interface ProducePartition {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}

interface ProduceTopic {
  topic: string;
  partitions: ProducePartition[];
}

/** What kafkajs' produce request (versions 3 to 7) is made of. */
export interface KafkajsProduceOptions {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: ProduceTopic[];
}

/** The request kafkajs sends: `encode` gives its body, which kafkajs frames with its header. */
export interface KafkajsProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse(): boolean;
  encode(): Promise<{ buf: Buffer; offset: number; readonly buffer: Buffer }>;
}

export type KafkajsProduceV3 = (options: KafkajsProduceOptions) => KafkajsProduceRequest;

/** What the one-pass encoding takes from kafkajs: its own modules, as the process runs them. */
export interface KafkajsProduceParts {
  /** kafkajs' own produce request: made for every request, and the encoder of compressed ones. */
  released: KafkajsProduceV3;
  Encoder: KafkajsProduceEncoderStatics;
  Long: KafkajsLongStatics;
  /** kafkajs' record batch CRC-32C, as unsigned (the native one when the CRC fix is in place). */
  crc32c: (input: Buffer) => number;
}

/** kafkajs' `Types.None`: records sent as they are. */
const NO_COMPRESSION = 0;
const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;
/** A record batch's fields from its attributes to its record count (the part after the CRC). */
const BATCH_HEADER_AFTER_CRC = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** firstOffset, the batch's length, partitionLeaderEpoch, magic, CRC: before the part the CRC covers. */
const BATCH_HEADER_TO_CRC = 8 + 4 + 4 + 1 + 4;

/** kafkajs' `value == null`: what it writes as a null string or bytes, and leaves out of timestamps. */
const isAbsent = (value: unknown): value is null | undefined => value === null || value === undefined;

/** `Encoder.encodeZigZag`: 32-bit, as kafkajs writes every varint. */
const zigZag = (value: number): number => (value << 1) ^ (value >> 31);

/** `Encoder.sizeOfVarInt`. */
function sizeOfVarInt(value: number): number {
  let encoded = zigZag(value);
  let bytes = 1;
  while ((encoded & 0xffffff80) !== 0) {
    bytes += 1;
    encoded >>>= 7;
  }
  return bytes;
}

/** `Encoder.writeVarInt` into `buf` at `offset`: where it ended. */
function writeVarInt(buf: Buffer, offset: number, value: number): number {
  let encoded = zigZag(value);
  while ((encoded & 0xffffff80) !== 0) {
    buf[offset++] = (encoded & 0x7f) | 0x80;
    encoded >>>= 7;
  }
  buf[offset++] = encoded & 0x7f;
  return offset;
}

/**
 * Whether a varlong of `value` is written as the varint of the same value: an integer of 31 bits
 * whose zigzag takes 31, where kafkajs' 64-bit zigzag and its 32-bit one agree.
 */
const varLongIsVarInt = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= -0x40000000 && value < 0x40000000;

/** kafkajs' `Record` fields of one message, sized: what the writing pass needs again. */
interface SizedRecord {
  message: ProduceMessage;
  headers: IHeaders;
  timestampDelta: unknown;
  /** The record's body size (its length prefix excluded). */
  bodySize: number;
  headerCount: number;
}

interface SizedPartition {
  partition: number;
  firstSequence: number;
  firstTimestamp: unknown;
  maxTimestamp: unknown;
  records: SizedRecord[];
  /** Bytes of the records, length prefixes included. */
  recordsSize: number;
}

interface SizedTopic {
  topic: string;
  partitions: SizedPartition[];
}

/**
 * kafkajs' produce request of versions 3 to 7 (`src/protocol/requests/produce/v3/request`), its
 * body encoded in two passes: every record, batch, partition and topic is sized first, then
 * written into one buffer of exactly that size. kafkajs writes each record and each record
 * header into an encoder of its own, each varint through an array and a `Buffer` of it, and
 * copies every encoder into its parent (the records into their batch, the batch twice more,
 * then the partition, the topic and the request): for ingest's deliveries, most of what its
 * produce requests cost. The bytes are kafkajs', with the same errors for what it cannot take;
 * a compressed request is left to kafkajs' own encoding.
 */
export function makeKafkajsProduceRequest(parts: KafkajsProduceParts): KafkajsProduceV3 {
  const { released, Encoder, Long, crc32c } = parts;

  /** The lengths of the strings and buffers of the request, in the order they are written. */
  type Tape = number[];

  const sizeOfVarLong = (value: unknown): number =>
    varLongIsVarInt(value) ? sizeOfVarInt(value) : Encoder.sizeOfVarLong(value);

  /** `Encoder.sizeOfVarIntBytes`, its length on the tape (-1 for null). */
  function sizeOfVarIntBytes(value: Buffer | string | null | undefined, tape: Tape): number {
    const size = isAbsent(value) ? -1 : Buffer.byteLength(value);
    tape.push(size);
    return size < 0 ? sizeOfVarInt(-1) : sizeOfVarInt(size) + size;
  }

  /** A record header's bytes, its key's and value's lengths on the tape (a value neither text nor bytes throws, as in kafkajs). */
  function sizeOfHeader(keySize: number, value: Buffer | string, tape: Tape): number {
    const valueSize = Buffer.byteLength(value);
    tape.push(keySize, valueSize);
    return sizeOfVarInt(keySize) + keySize + sizeOfVarInt(valueSize) + valueSize;
  }

  /** kafkajs' `Record` sizing, in its order (so that what it cannot take fails the same way). */
  function sizeRecord(message: ProduceMessage, offsetDelta: number, timestampDelta: unknown, tape: Tape): SizedRecord {
    const headers = message.headers === undefined ? {} : message.headers;
    const names = Object.keys(headers);
    let bodySize =
      1 + // attributes
      sizeOfVarLong(timestampDelta) +
      sizeOfVarInt(offsetDelta) +
      sizeOfVarIntBytes(message.key, tape) +
      sizeOfVarIntBytes(message.value, tape);
    let headerCount = 0;
    let headersSize = 0;
    for (const name of names) {
      const keySize = Buffer.byteLength(name);
      const value = headers[name];
      if (Array.isArray(value)) {
        for (const item of value) headersSize += sizeOfHeader(keySize, item, tape);
        headerCount += value.length;
      } else {
        headersSize += sizeOfHeader(keySize, value as Buffer | string, tape);
        headerCount++;
      }
    }
    bodySize += sizeOfVarInt(headerCount) + headersSize;
    return { message, headers, timestampDelta, bodySize, headerCount };
  }

  /** kafkajs' `partitionsEncoder` up to its records, sized. */
  function sizePartition({ partition, messages, firstSequence = 0 }: ProducePartition, tape: Tape): SizedPartition {
    const dateNow = Date.now();
    // As kafkajs: sorted as `Array#sort` sorts, without a comparator.
    const messageTimestamps = messages
      .map((message) => message.timestamp)
      .filter((timestamp) => !isAbsent(timestamp))
      .sort();
    const timestamps = messageTimestamps.length === 0 ? [dateNow] : messageTimestamps;
    const firstTimestamp = timestamps[0];
    const maxTimestamp = timestamps[timestamps.length - 1];
    let recordsSize = 0;
    const records = messages.map((message, index) => {
      const timestampDelta = ((message.timestamp || dateNow) as number) - (firstTimestamp as number);
      const record = sizeRecord(message, index, timestampDelta, tape);
      recordsSize += sizeOfVarInt(record.bodySize) + record.bodySize;
      return record;
    });
    return { partition, firstSequence, firstTimestamp, maxTimestamp, records, recordsSize };
  }

  /** Bytes of a partition's entry: partition, record set size, and the record batch. */
  const partitionSize = ({ recordsSize }: SizedPartition) =>
    4 + 4 + BATCH_HEADER_TO_CRC + BATCH_HEADER_AFTER_CRC + recordsSize;

  const writeInt64 = (buf: Buffer, offset: number, value: unknown): number => {
    const long = Long.fromValue(value);
    buf.writeInt32BE(long.getHighBits(), offset);
    buf.writeInt32BE(long.getLowBits(), offset + 4);
    return offset + 8;
  };

  const writeVarLong = (buf: Buffer, offset: number, value: unknown): number => {
    if (varLongIsVarInt(value)) return writeVarInt(buf, offset, value);
    const bytes = new Encoder().writeVarLong(value).buffer;
    return offset + bytes.copy(buf, offset);
  };

  /** `writeVarIntBytes` of a value whose length is next on the tape. */
  function writeVarIntBytes(
    buf: Buffer,
    offset: number,
    value: Buffer | string | null | undefined,
    length: number,
  ): number {
    if (isAbsent(value)) return writeVarInt(buf, offset, -1);
    offset = writeVarInt(buf, offset, length);
    return (
      offset + (Buffer.isBuffer(value) ? value.copy(buf, offset) : buf.write(String(value), offset, length, 'utf8'))
    );
  }

  /** A record header, its key's and value's lengths from the tape. */
  function writeHeader(
    buf: Buffer,
    offset: number,
    name: string,
    value: Buffer | string | undefined,
    keySize: number,
    valueSize: number,
  ): number {
    offset = writeVarInt(buf, offset, keySize);
    offset += buf.write(name, offset, keySize, 'utf8');
    return writeVarIntBytes(buf, offset, value, valueSize);
  }

  function writeRecords(buf: Buffer, offset: number, records: SizedRecord[], tape: Tape, at: { next: number }): number {
    let next = at.next;
    for (let index = 0; index < records.length; index++) {
      const { message, headers, timestampDelta, bodySize, headerCount } = records[index];
      offset = writeVarInt(buf, offset, bodySize);
      buf[offset++] = 0; // no record attributes are in use
      offset = writeVarLong(buf, offset, timestampDelta);
      offset = writeVarInt(buf, offset, index);
      offset = writeVarIntBytes(buf, offset, message.key, tape[next++]);
      offset = writeVarIntBytes(buf, offset, message.value, tape[next++]);
      offset = writeVarInt(buf, offset, headerCount);
      for (const name of Object.keys(headers)) {
        const value = headers[name];
        if (Array.isArray(value)) {
          for (const item of value) {
            offset = writeHeader(buf, offset, name, item, tape[next], tape[next + 1]);
            next += 2;
          }
        } else {
          offset = writeHeader(buf, offset, name, value, tape[next], tape[next + 1]);
          next += 2;
        }
      }
    }
    at.next = next;
    return offset;
  }

  /** kafkajs' `RecordBatch` (v0, uncompressed) after its partition's number and size. */
  function writeRecordBatch(
    buf: Buffer,
    offset: number,
    batch: SizedPartition,
    options: KafkajsProduceOptions & { producerId: unknown; producerEpoch: number },
    tape: Tape,
    at: { next: number },
  ): number {
    const crcCovers = BATCH_HEADER_AFTER_CRC + batch.recordsSize;
    offset = writeInt64(buf, offset, 0); // firstOffset
    buf.writeInt32BE(4 + 1 + 4 + crcCovers, offset); // the batch's length, as `writeBytes` writes it
    buf.writeInt32BE(0, offset + 4); // partitionLeaderEpoch
    buf.writeInt8(MAGIC_BYTE, offset + 8);
    const crcAt = offset + 9;
    offset = crcAt + 4;
    const covered = offset;
    buf.writeInt16BE(options.transactionalId ? TRANSACTIONAL_MASK : 0, offset); // attributes: uncompressed
    buf.writeInt32BE(batch.records.length - 1, offset + 2); // lastOffsetDelta
    offset = writeInt64(buf, offset + 6, batch.firstTimestamp);
    offset = writeInt64(buf, offset, batch.maxTimestamp);
    offset = writeInt64(buf, offset, options.producerId);
    buf.writeInt16BE(options.producerEpoch, offset);
    buf.writeInt32BE(batch.firstSequence, offset + 2);
    buf.writeInt32BE(batch.records.length, offset + 6);
    offset = writeRecords(buf, offset + 10, batch.records, tape, at);
    buf.writeUInt32BE(crc32c(buf.subarray(covered, offset)), crcAt);
    return offset;
  }

  function encodeBody(options: KafkajsProduceOptions): Buffer {
    const { acks, timeout, transactionalId = null, producerEpoch = 0, topicData } = options;
    const producerId = options.producerId === undefined ? Long.fromInt(-1) : options.producerId;
    const tape: Tape = [];
    const transactionalIdSize = isAbsent(transactionalId) ? 0 : Buffer.byteLength(transactionalId, 'utf8');
    let size = 2 + transactionalIdSize + 2 + 4 + 4;
    const topics: SizedTopic[] = [];
    for (const { topic, partitions } of topicData) {
      const sized = { topic, partitions: partitions.map((partition) => sizePartition(partition, tape)) };
      size += 2 + (isAbsent(topic) ? 0 : Buffer.byteLength(topic, 'utf8')) + 4;
      for (const partition of sized.partitions) size += partitionSize(partition);
      topics.push(sized);
    }

    const buf = Buffer.allocUnsafe(size);
    let offset = 0;
    if (isAbsent(transactionalId)) offset = buf.writeInt16BE(-1, offset);
    else {
      offset = buf.writeInt16BE(transactionalIdSize, offset);
      offset += buf.write(transactionalId, offset, transactionalIdSize, 'utf8');
    }
    offset = buf.writeInt16BE(acks, offset);
    offset = buf.writeInt32BE(timeout, offset);
    offset = buf.writeInt32BE(topics.length, offset);
    const at = { next: 0 };
    const batchOptions = { ...options, producerId, producerEpoch, transactionalId };
    for (const { topic, partitions } of topics) {
      if (isAbsent(topic)) offset = buf.writeInt16BE(-1, offset);
      else {
        const topicSize = Buffer.byteLength(topic, 'utf8');
        offset = buf.writeInt16BE(topicSize, offset);
        offset += buf.write(topic, offset, topicSize, 'utf8');
      }
      offset = buf.writeInt32BE(partitions.length, offset);
      for (const partition of partitions) {
        offset = buf.writeInt32BE(partition.partition, offset);
        offset = buf.writeInt32BE(partitionSize(partition) - 8, offset); // the record set's size
        offset = writeRecordBatch(buf, offset, partition, batchOptions, tape, at);
      }
    }
    // Every byte is written (allocUnsafe leaves old memory in the rest): anything else is a bug here.
    if (offset !== size || at.next !== tape.length) {
      throw new Error(`kafkajs produce request encoding wrote ${offset} bytes of the ${size} it sized`);
    }
    return buf;
  }

  return (options) => {
    const request = released(options);
    if ((options.compression ?? NO_COMPRESSION) !== NO_COMPRESSION) return request;
    return {
      ...request,
      encode: async () => {
        const buf = encodeBody(options);
        const body = Object.create(Encoder.prototype) as { buf: Buffer; offset: number; readonly buffer: Buffer };
        body.buf = buf;
        body.offset = buf.length;
        return body;
      },
    };
  };
}

/** Whether `request` is kafkajs 2.2.4's produce request of version 3, the one this fix encodes in its place. */
export function isKafkajsProduceRequestV3(request: unknown): boolean {
  if (typeof request !== 'function') return false;
  const source = String(request);
  return (
    source.includes('apiVersion: 3') &&
    source.includes('const encodeTopic = topicEncoder(compression)') &&
    source.includes('.writeArray(encodedTopicData)')
  );
}

/** The produce requests that take kafkajs' version 3 when they load (versions 4 to 7 build on it). */
const LATER_PRODUCE_REQUESTS = [4, 5, 6, 7].map(
  (version) => `kafkajs/src/protocol/requests/produce/v${version}/request`,
);

/**
 * Puts `makeKafkajsProduceRequest`'s request in place of kafkajs 2.2.4's produce request of version
 * 3, which versions 4 to 7 (what a broker of Kafka 2.1 or later takes) take when they first load,
 * on a client's first produce. So this runs before any produce, after the record and CRC fixes
 * (kafkajs' own request, which still makes compressed requests, loads the record and CRC modules
 * it finds), in the module registry that loads kafkajs. Leaves kafkajs alone, and answers false,
 * when a later produce request has already loaded there or the request is not the one it knows.
 */
export function fixKafkajsProduceRequest(moduleRequire: ModuleRequire = require): boolean {
  return replaceKafkajsModule(moduleRequire, KAFKAJS_MODULES.produceRequest, {
    keptBy: LATER_PRODUCE_REQUESTS,
    isReleased: isKafkajsProduceRequestV3,
    make: (released) =>
      makeKafkajsProduceRequest({
        released: released as KafkajsProduceV3,
        Encoder: moduleRequire(KAFKAJS_MODULES.encoder) as KafkajsProduceEncoderStatics,
        Long: moduleRequire(KAFKAJS_MODULES.long) as KafkajsLongStatics,
        crc32c: moduleRequire(KAFKAJS_MODULES.crc32c) as (input: Buffer) => number,
      }),
  });
}
