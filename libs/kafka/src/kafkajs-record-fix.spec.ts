import type { IHeaders } from 'kafkajs';
import { expectSameEncoding, inFreshModuleRegistry, kafkajsRecordInputs } from '@asana-stream/testing';
import { fixKafkajsEncoderAllocation } from './kafkajs-encoder-fix';
import { encodeKafkajsProduceRequest, KAFKAJS_MODULES } from './kafkajs-modules';
import {
  fixKafkajsRecordEncoding,
  isKafkajsRecordEncoder,
  makeKafkajsRecord,
  type KafkajsEncoderStatics,
  type KafkajsRecord,
  type KafkajsRecordInput,
} from './kafkajs-record-fix';

// kafkajs' own modules, as released (not exported by kafkajs: their files).
/* eslint-disable @typescript-eslint/no-require-imports */
const Encoder = require(KAFKAJS_MODULES.encoder) as KafkajsEncoderStatics;
const releasedRecord = require(KAFKAJS_MODULES.record) as KafkajsRecord;
/* eslint-enable @typescript-eslint/no-require-imports */

/** What `encode` made of `input`: its bytes, or the error it threw. */
function outcome(encode: KafkajsRecord, input: KafkajsRecordInput): Buffer | string {
  try {
    return Buffer.from(encode(input).buffer);
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** A produce request's topics as ingest sends them: a raw delivery with its headers, and events. */
function produceTopics(): unknown[] {
  const timestamp = 1_796_000_000_000;
  return [
    {
      topic: 'asana.deliveries',
      partitions: [
        {
          partition: 1,
          firstSequence: 3,
          messages: [
            {
              key: 'subscription-1',
              value: Buffer.from('{"events":[]}'),
              timestamp,
              headers: { subscriptionId: 'subscription-1', deliveryId: 'd'.repeat(32), eventCount: '0' },
            },
          ],
        },
      ],
    },
    {
      topic: 'asana.events',
      partitions: [
        {
          partition: 4,
          firstSequence: 0,
          messages: kafkajsRecordInputs(30).map(({ key, value, headers }, index) => ({
            key,
            value,
            headers,
            timestamp: timestamp + index,
          })),
        },
      ],
    },
  ];
}

describe("the fix of kafkajs' record encoding", () => {
  const fast = makeKafkajsRecord(Encoder);

  it("recognises kafkajs 2.2.4's record encoder, and nothing else", () => {
    expect(isKafkajsRecordEncoder(releasedRecord)).toBe(true);
    expect(isKafkajsRecordEncoder(fast)).toBe(false);
    expect(isKafkajsRecordEncoder(() => undefined)).toBe(false);
    expect(isKafkajsRecordEncoder('Object.keys(headers).flatMap(')).toBe(false);
  });

  describe.each([
    ['as released', () => undefined],
    ['with the encoder allocation fix', () => void fixKafkajsEncoderAllocation()],
  ])("on kafkajs' encoder %s", (_, prepare) => {
    beforeAll(prepare);

    it('encodes any record byte for byte as kafkajs does', () => {
      const inputs = kafkajsRecordInputs(2000);
      for (const input of inputs) expectSameEncoding(outcome(fast, input), outcome(releasedRecord, input));
    });

    it('fails where kafkajs fails, with the same error', () => {
      const bad: KafkajsRecordInput[] = [
        { key: 'k', value: 'v', headers: { absent: undefined } },
        { key: 'k', value: 'v', headers: { nothing: null as unknown as string } },
        { key: 'k', value: 'v', headers: { number: 7 as unknown as string } },
        { key: 'k', value: 'v', headers: { nested: [['a'] as unknown as string] } },
        { key: 'k', value: 'v', headers: null as unknown as IHeaders },
        { key: 'k', value: 9 as unknown as string, headers: { number: 7 as unknown as string } },
      ];
      for (const input of bad) {
        const released = outcome(releasedRecord, input);
        expect(typeof released).toBe('string');
        expect(outcome(fast, input)).toEqual(released);
      }
    });

    it('hands out an encoder whose buffer holds exactly the record, as kafkajs callers expect', () => {
      const record = fast({ key: 'gid-1', value: 'state', headers: { traceparent: 't' } });
      expect(record).toBeInstanceOf(Encoder as unknown as new () => object);
      expect(Buffer.isBuffer(record.buf)).toBe(true);
      expect(record.buffer.length).toBe(record.buf.length);
    });
  });

  describe('put in place', () => {
    let released: Buffer;
    beforeAll(async () => {
      released = await encodeKafkajsProduceRequest(require, produceTopics());
    });

    it('takes the place of kafkajs record encoder before the produce request loads, once', async () => {
      await inFreshModuleRegistry(async (load) => {
        expect(fixKafkajsRecordEncoding(load)).toBe(true);
        expect(fixKafkajsRecordEncoding(load)).toBe(true);
        expect(isKafkajsRecordEncoder(load(KAFKAJS_MODULES.record))).toBe(false);
        expect((await encodeKafkajsProduceRequest(load, produceTopics())).equals(released)).toBe(true);
      });
      // This file's registry is left as it was.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(isKafkajsRecordEncoder(require(KAFKAJS_MODULES.record))).toBe(true);
    });

    it('leaves kafkajs alone once the produce request has loaded with its own', async () => {
      await inFreshModuleRegistry(async (load) => {
        load(KAFKAJS_MODULES.produceRequest);
        expect(fixKafkajsRecordEncoding(load)).toBe(false);
        expect(isKafkajsRecordEncoder(load(KAFKAJS_MODULES.record))).toBe(true);
      });
    });
  });
});
