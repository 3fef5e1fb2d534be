import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import type { Message, PartitionMetadata, TopicMessages } from 'kafkajs';
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
 * The bytes `message` takes in an uncompressed v2 record batch, once `extraHeaders` are added
 * (the trace context injected at send). An upper bound: the timestamp and
 * offset deltas, which kafkajs fills in at send, are counted at 5 bytes each (deltas below
 * about 198 days and 2^27 records).
 */
export function recordBytes(message: Message, extraHeaders: Readonly<Record<string, string>> = {}): number {
  const headers: [string, Buffer | string][] = [];
  for (const [key, value] of Object.entries({ ...message.headers, ...extraHeaders })) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.push([key, one]);
  }
  let body = 1 /* attributes */ + 5 /* timestamp delta */ + 5; /* offset delta */
  body += fieldBytes(message.key) + fieldBytes(message.value);
  body += varintBytes(headers.length);
  for (const [key, value] of headers) body += fieldBytes(key) + fieldBytes(value);
  return varintBytes(body) + body;
}

/** One record batch a send makes: the messages for one topic partition. */
export interface RecordBatchSize {
  topic: string;
  partition: number;
  records: number;
  bytes: number;
}

/**
 * The record batches a send of `topicMessages` makes: kafkajs writes one batch per topic
 * partition, and the broker refuses a batch larger than `max.message.bytes` (while the request's
 * other batches may succeed: a partial write). Messages are placed by kafkajs' default partitioner
 * (murmur2 of the key), as KafkaPublisher's producer places them, over `partitionCount(topic)`.
 */
export function recordBatches(
  topicMessages: readonly TopicMessages[],
  partitionCount: (topic: string) => number,
  extraHeaders: Readonly<Record<string, string>> = {},
): RecordBatchSize[] {
  const batches = new Map<string, RecordBatchSize>();
  for (const { topic, messages } of topicMessages) {
    const partitionMetadata = metadataFor(partitionCount(topic));
    for (const message of messages) {
      const partition = PARTITIONER({ topic, partitionMetadata, message });
      const id = `${topic}\0${partition}`;
      const batch = batches.get(id) ?? { topic, partition, records: 0, bytes: RECORD_BATCH_HEADER_BYTES };
      batch.records++;
      batch.bytes += recordBytes(message, extraHeaders);
      batches.set(id, batch);
    }
  }
  return [...batches.values()];
}

/**
 * An upper bound of the largest record batch a send of `topicMessages` makes: every message in
 * one batch. Costs a sum over the messages, no partitioning, so a caller checks a limit with it
 * first and needs `recordBatches` only for a send that comes near the limit.
 */
export function sendBytesUpperBound(
  topicMessages: readonly TopicMessages[],
  extraHeaders: Readonly<Record<string, string>> = {},
): number {
  let bytes = RECORD_BATCH_HEADER_BYTES;
  for (const { messages } of topicMessages) {
    for (const message of messages) bytes += recordBytes(message, extraHeaders);
  }
  return bytes;
}

// Made once: recordBatches runs for every delivery ingest receives.
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

/**
 * The trace headers every message sent from the active context gets at send: KafkaPublisher (as
 * the kafkajs instrumentation did) injects a producer span, a child of the active span, through
 * the global propagators. So the trace state and baggage of the active context (a client's
 * `baggage` header reaches every message, up to 8 KB) and a `traceparent` of fixed length.
 * Empty when telemetry is not started: nothing is injected then.
 */
export function injectedTraceHeaders(): Record<string, string> {
  const active = context.active();
  const parent = trace.getSpanContext(active);
  const producerSpan = trace.wrapSpanContext({
    traceId: parent?.traceId ?? '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
    traceState: parent?.traceState,
  });
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(active, producerSpan), carrier);
  return carrier;
}
