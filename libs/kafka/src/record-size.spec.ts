import { context, propagation, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { Partitioners, type Message } from 'kafkajs';
import { shutdownTelemetry, startTelemetry } from '@asana-stream/telemetry';
import {
  injectedTraceHeaders,
  RECORD_BATCH_HEADER_BYTES,
  recordBatches,
  recordBytes,
  sendBytesUpperBound,
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

  it('counts headers added at send', () => {
    const extra = { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` };
    const encoded = encodeRecord({ ...messages[0], headers: extra }).buffer.length;
    expect(recordBytes(messages[0], extra)).toBeGreaterThanOrEqual(encoded);
  });
});

describe('recordBatches', () => {
  it('adds the batch header to its records, as kafkajs writes a batch', async () => {
    const records = messages.map((m, offsetDelta) => encodeRecord({ ...m, offsetDelta }));
    const encoded = (await encodeBatch({ records })).buffer.length;
    const [batch] = recordBatches([{ topic: 't', messages }], () => 1);
    expect(batch.bytes).toBeGreaterThanOrEqual(encoded);
    expect(batch.bytes - RECORD_BATCH_HEADER_BYTES).toBe(messages.reduce((sum, m) => sum + recordBytes(m), 0));
  });

  it("groups messages per topic partition as kafkajs' default partitioner places them", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const keyed = Array.from({ length: 60 }, (_, i): Message => ({ key: String(1_200_000 + i), value: 'v' }));
    const batches = recordBatches(
      [
        { topic: 'events', messages: keyed },
        { topic: 'raw', messages: [keyed[0]] },
      ],
      (t) => (t === 'events' ? 6 : 3),
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

describe('sendBytesUpperBound', () => {
  const keyed = (n: number, value: string): Message[] =>
    Array.from({ length: n }, (_, i) => ({ key: String(1_200_000 + i), value, headers: { h: 'x'.repeat(i) } }));
  const sends = [
    [{ topic: 'events', messages: keyed(60, 'v') }],
    [
      { topic: 'events', messages: keyed(7, 'a longer value') },
      { topic: 'raw', messages: keyed(1, 'the raw body') },
    ],
    [{ topic: 'one', messages: keyed(1, '') }],
  ];

  it.each(sends.map((send, i) => [i, send] as const))(
    'is at least the largest record batch of send %i, and exactly it when everything goes to one partition',
    (_i, send) => {
      const headers = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
      const largest = Math.max(...recordBatches(send, () => 6, headers).map((b) => b.bytes));
      expect(sendBytesUpperBound(send, headers)).toBeGreaterThanOrEqual(largest);
      const onePartition = send.length === 1 ? recordBatches(send, () => 1, headers)[0].bytes : undefined;
      if (onePartition !== undefined) expect(sendBytesUpperBound(send, headers)).toBe(onePartition);
    },
  );

  it('counts only the batch header for nothing to send', () => {
    expect(sendBytesUpperBound([])).toBe(RECORD_BATCH_HEADER_BYTES);
  });
});

describe('injectedTraceHeaders', () => {
  it('is empty without telemetry: nothing is injected then', () => {
    expect(injectedTraceHeaders()).toEqual({});
  });

  describe('with the telemetry the apps start', () => {
    beforeAll(() => startTelemetry({ serviceName: 'kafka-record-size-spec', env: {} }));
    afterAll(() => shutdownTelemetry());

    it('has a traceparent, and the trace state and baggage of the active context, as the publisher injects', () => {
      // A client's `baggage` header reaches the context, and from there every message sent in it.
      const baggage = propagation.createBaggage({ tenant: { value: 'x'.repeat(2000) } });
      const incoming = trace.setSpanContext(propagation.setBaggage(ROOT_CONTEXT, baggage), {
        traceId: 'a'.repeat(32),
        spanId: 'b'.repeat(16),
        traceFlags: TraceFlags.SAMPLED,
      });

      const headers = context.with(incoming, () => injectedTraceHeaders());

      expect(headers.traceparent).toMatch(new RegExp(`^00-${'a'.repeat(32)}-[0-9a-f]{16}-01$`));
      expect(headers.baggage).toHaveLength('tenant='.length + 2000);
    });
  });
});
