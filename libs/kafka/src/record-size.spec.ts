import { Partitioners, type Message } from 'kafkajs';
import {
  RECORD_BATCH_HEADER_BYTES,
  recordBatches,
  recordBatchOver,
  recordBytes,
  type SizedMessage,
} from './record-size';

/** kafkajs' own encoders: what it writes to the broker. */
const encodeRecord = jest.requireActual<
  (record: { key?: unknown; value: unknown; headers?: unknown; timestampDelta?: number; offsetDelta?: number }) => {
    buffer: Buffer;
  }
>('kafkajs/src/protocol/recordBatch/record/v0');
const { RecordBatch: encodeBatch } = jest.requireActual<{
  RecordBatch: (batch: { records: unknown[] }) => Promise<{ buffer: Buffer }>;
}>('kafkajs/src/protocol/recordBatch/v0');

const messages: Message[] = [
  { key: '1200', value: '{"a":1}' },
  { key: null, value: null },
  { key: 'k', value: Buffer.alloc(200_000, 1), headers: { subscriptionId: 'x'.repeat(36), eventCount: '3' } },
  { key: 'é✓', value: 'résumé ✓'.repeat(50), headers: { multi: ['a', Buffer.from('bb')] } },
];

describe('recordBytes', () => {
  it.each(messages.map((m, i) => [i, m]))(
    'is at least what kafkajs encodes, within 8 bytes (message %i)',
    (_i, message) => {
      // Deltas as a batch of many records sent over some milliseconds would have them.
      const encoded = encodeRecord({ ...message, timestampDelta: 2000, offsetDelta: 3000 }).buffer.length;
      expect(recordBytes(message)).toBeGreaterThanOrEqual(encoded);
      expect(recordBytes(message) - encoded).toBeLessThanOrEqual(8);
    },
  );

  it('counts the headers added at send', () => {
    const traced = { ...messages[0], headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` } };
    const encoded = encodeRecord(traced).buffer.length;
    expect(recordBytes(traced)).toBeGreaterThanOrEqual(encoded);
    expect(recordBytes(traced) - encoded).toBeLessThanOrEqual(8);
  });
});

/** `messages` of `topic` with their sizes, as the publisher sends them. */
const sized = (topic: string, list: Message[]): SizedMessage[] =>
  list.map((message) => ({ topic, message, bytes: recordBytes(message) }));

describe('recordBatches', () => {
  it('adds the batch header to its records, as kafkajs writes a batch', async () => {
    const records = messages.map((m, offsetDelta) => encodeRecord({ ...m, offsetDelta }));
    const encoded = (await encodeBatch({ records })).buffer.length;
    const [batch] = recordBatches(sized('t', messages), () => 1);
    expect(batch.bytes).toBeGreaterThanOrEqual(encoded);
    expect(batch.bytes - RECORD_BATCH_HEADER_BYTES).toBe(messages.reduce((sum, m) => sum + recordBytes(m), 0));
  });

  it("groups messages per topic partition as kafkajs' default partitioner places them", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const keyed = Array.from({ length: 60 }, (_, i): Message => ({ key: String(1_200_000 + i), value: 'v' }));
    const batches = recordBatches([...sized('events', keyed), ...sized('raw', [keyed[0]])], (t) =>
      t === 'events' ? 6 : 3,
    );
    const metadata = (n: number) =>
      Array.from({ length: n }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [],
        isr: [],
      }));
    for (const batch of batches.filter((b) => b.topic === 'events')) {
      const mine = keyed.filter(
        (message) => partitioner({ topic: 'events', partitionMetadata: metadata(6), message }) === batch.partition,
      );
      expect(batch.records).toBe(mine.length);
    }
    expect(batches.filter((b) => b.topic === 'events').reduce((n, b) => n + b.records, 0)).toBe(60);
    expect(batches.filter((b) => b.topic === 'raw')).toHaveLength(1);
  });
});

describe('recordBatchOver', () => {
  const keyed = (n: number, value: string): Message[] =>
    Array.from({ length: n }, (_, i) => ({ key: String(1_200_000 + i), value, headers: { h: 'x'.repeat(i) } }));
  const sends = [
    sized('events', keyed(60, 'v')),
    [...sized('events', keyed(7, 'a longer value')), ...sized('raw', keyed(1, 'the raw body'))],
    sized('one', keyed(1, '')),
  ];
  const largestOf = (send: SizedMessage[]) =>
    recordBatches(send, () => 6).reduce((a, b) => (b.bytes > a.bytes ? b : a));

  it.each(sends.map((send, i) => [i, send] as const))(
    'names the largest record batch of send %i exactly when it is over the limit',
    (_i, send) => {
      const largest = largestOf(send);
      expect(recordBatchOver(send, () => 6, largest.bytes - 1)).toEqual(largest);
      expect(recordBatchOver(send, () => 6, largest.bytes)).toBeUndefined();
    },
  );

  it('places nothing when the whole send fits in one batch', () => {
    const send = sends[0];
    const total = RECORD_BATCH_HEADER_BYTES + send.reduce((sum, m) => sum + m.bytes, 0);
    const partitions = jest.fn(() => 6);
    expect(recordBatchOver(send, partitions, total)).toBeUndefined();
    expect(partitions).not.toHaveBeenCalled();
    expect(recordBatchOver([], partitions, RECORD_BATCH_HEADER_BYTES)).toBeUndefined();
  });
});
