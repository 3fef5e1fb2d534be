import type { Message, PartitionMetadata } from 'kafkajs';
import { KeyPartitioner } from './key-partitioner';

/**
 * A v2 record batch's fixed part: base offset (8), length (4), leader epoch (4), magic (1), CRC (4),
 * attributes (2), last offset delta (4), first and max timestamp (8 + 8), producer id (8) and
 * epoch (2), base sequence (4), record count (4). The broker compares the whole batch with the
 * topic's `max.message.bytes`.
 */
export const RECORD_BATCH_HEADER_BYTES = 61;

/** Bytes of a zigzag varint (Kafka's record fields). */
function varintBytes(value: number): number {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1;
  let bytes = 1;
  while (zigzag >= 128) {
    zigzag = Math.floor(zigzag / 128);
    bytes++;
  }
  return bytes;
}

/** A length-prefixed field: the varint length (-1 for null) and the bytes. */
function fieldBytes(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return varintBytes(-1);
  const length = Buffer.byteLength(value);
  return varintBytes(length) + length;
}

/**
 * The bytes `message` takes in an uncompressed v2 record batch, its headers included. An upper
 * bound: the timestamp and offset deltas, which kafkajs fills in at send, are counted at 5 bytes
 * each (deltas below about 198 days and 2^27 records).
 */
export function recordBytes(message: Message): number {
  let headerCount = 0;
  let body = 1 /* attributes */ + 5 /* timestamp delta */ + 5; /* offset delta */
  body += fieldBytes(message.key) + fieldBytes(message.value);
  for (const [key, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      headerCount++;
      body += fieldBytes(key) + fieldBytes(one);
    }
  }
  body += varintBytes(headerCount);
  return varintBytes(body) + body;
}

/** A message on its way to a topic, with its size in a record batch (`recordBytes`, headers included). */
export interface SizedMessage {
  topic: string;
  message: Message;
  bytes: number;
}

/** One record batch a send makes: the messages for one topic partition. */
export interface RecordBatchSize {
  topic: string;
  partition: number;
  records: number;
  bytes: number;
}

/**
 * The record batches a send of `messages` makes: kafkajs writes one batch per topic partition,
 * and the broker refuses a batch larger than `max.message.bytes` (while the request's other
 * batches may succeed: a partial write). Messages are placed by kafkajs' default partitioner
 * (murmur2 of the key), as KafkaPublisher's producer places them, over `partitionCount(topic)`.
 */
export function recordBatches(
  messages: readonly SizedMessage[],
  partitionCount: (topic: string) => number,
): RecordBatchSize[] {
  const batches = new Map<string, RecordBatchSize>();
  for (const { topic, message, bytes } of messages) {
    const partitionMetadata = metadataFor(partitionCount(topic));
    const partition = PARTITIONER({ topic, partitionMetadata, message });
    const id = `${topic}\0${partition}`;
    const batch = batches.get(id) ?? { topic, partition, records: 0, bytes: RECORD_BATCH_HEADER_BYTES };
    batch.records++;
    batch.bytes += bytes;
    batches.set(id, batch);
  }
  return [...batches.values()];
}

/**
 * The largest record batch a send of `messages` makes, if it is larger than `maxBytes`; else
 * undefined. Nearly every send is far below the limit even as one batch, so the messages are
 * placed on partitions only when their sum is not.
 */
export function recordBatchOver(
  messages: readonly SizedMessage[],
  partitionCount: (topic: string) => number,
  maxBytes: number,
): RecordBatchSize | undefined {
  let total = RECORD_BATCH_HEADER_BYTES;
  for (const { bytes } of messages) total += bytes;
  if (total <= maxBytes) return undefined;
  const largest = recordBatches(messages, partitionCount).reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return largest.bytes > maxBytes ? largest : undefined;
}

// Made once: recordBatches runs for every publish near the limit.
const PARTITIONER = KeyPartitioner();
const METADATA = new Map<number, PartitionMetadata[]>();

/**
 * The partition KafkaPublisher's producer writes `key` to in a topic of `partitions` partitions:
 * kafkajs' default (murmur2, Java-compatible) partitioning (`KeyPartitioner`). A gid keyed on every topic with the
 * same partition count lands on the same partition number in each, so a reader looking for one
 * gid reads that one partition.
 */
export function partitionForKey(key: string, partitions: number): number {
  return PARTITIONER({ topic: '', partitionMetadata: metadataFor(partitions), message: { key, value: null } });
}

function metadataFor(partitions: number): PartitionMetadata[] {
  let metadata = METADATA.get(partitions);
  if (!metadata) METADATA.set(partitions, (metadata = partitionMetadata(partitions)));
  return metadata;
}

function partitionMetadata(partitions: number): PartitionMetadata[] {
  return Array.from({ length: partitions }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
  }));
}
