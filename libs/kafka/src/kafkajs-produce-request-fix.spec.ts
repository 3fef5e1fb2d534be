import { expectSameEncoding, inFreshModuleRegistry, kafkajsRecordInputs, seededInts } from '@asana-stream/testing';
import { encodeKafkajsProduceRequest, KAFKAJS_MODULES } from './kafkajs-modules';
import {
  fixKafkajsProduceRequest,
  isKafkajsProduceRequestV3,
  makeKafkajsProduceRequest,
  type KafkajsLongStatics,
  type KafkajsProduceEncoderStatics,
  type KafkajsProduceOptions,
  type KafkajsProduceV3,
} from './kafkajs-produce-request-fix';

// kafkajs' own modules, as released (not exported by kafkajs: their files).
/* eslint-disable @typescript-eslint/no-require-imports */
const released = require(KAFKAJS_MODULES.produceRequest) as KafkajsProduceV3;
const Encoder = require(KAFKAJS_MODULES.encoder) as KafkajsProduceEncoderStatics;
const Long = require(KAFKAJS_MODULES.long) as KafkajsLongStatics & { fromValue(value: unknown): unknown };
const crc32c = require(KAFKAJS_MODULES.crc32c) as (input: Buffer) => number;
const frame = require('kafkajs/src/protocol/request') as (options: {
  correlationId: number;
  clientId: string;
  request: KafkajsProduceV3 extends (...args: never[]) => infer R ? R : never;
}) => Promise<{ buffer: Buffer }>;
/* eslint-enable @typescript-eslint/no-require-imports */

const NOW = 1_796_000_000_000;

/** Arbitrary produce requests: topics, partitions and messages of every kind kafkajs takes. */
function requests(count: number): KafkajsProduceOptions[] {
  const next = seededInts(23);
  const inputs = kafkajsRecordInputs(1000, 29);
  let used = 0;
  const timestamp = () => {
    switch (next(4)) {
      case 0:
        return undefined;
      case 1:
        return NOW + next(2 ** 31) * 1000; // deltas past 31 bits: kafkajs' 64-bit varlong
      case 2:
        return String(NOW + next(1000)); // as a string, which kafkajs also takes
      default:
        return NOW + next(1000);
    }
  };
  const message = () => {
    const { key, value, headers } = inputs[used++ % inputs.length];
    const at = timestamp();
    return {
      key,
      value,
      ...(headers === undefined ? {} : { headers }),
      ...(at === undefined ? {} : { timestamp: at }),
    };
  };
  return Array.from({ length: count }, () => ({
    acks: [-1, 0, 1][next(3)],
    timeout: next(60_000),
    ...(next(3) === 0 ? {} : { transactionalId: next(2) === 0 ? null : `tx-${next(1000)}-ü` }),
    ...(next(2) === 0 ? {} : { producerId: Long.fromValue(next(2 ** 31) * 7), producerEpoch: next(100) }),
    topicData: Array.from({ length: next(4) }, (_, t) => ({
      topic: `topic-${t}-${'é'.repeat(next(5))}`,
      partitions: Array.from({ length: next(4) }, (_, p) => ({
        partition: p * 3,
        ...(next(4) === 0 ? {} : { firstSequence: next(2 ** 31) }),
        messages: Array.from({ length: next(5) === 0 ? 0 : next(12) }, message),
      })),
    })),
  }));
}

/** `requests(200)`, made once: text of arbitrary characters takes its time to make. */
let arbitrary: KafkajsProduceOptions[] | undefined;
const arbitraryRequests = () => (arbitrary ??= requests(200));

/** The body `request` encodes for `options`, or the error it fails with. */
async function outcome(request: KafkajsProduceV3, options: KafkajsProduceOptions): Promise<Buffer | string> {
  try {
    return Buffer.from((await request(options).encode()).buffer);
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

const oneMessage = (message: Record<string, unknown>): KafkajsProduceOptions =>
  ({
    acks: -1,
    timeout: 30_000,
    topicData: [{ topic: 'asana.events', partitions: [{ partition: 0, messages: [message] }] }],
  }) as unknown as KafkajsProduceOptions;

describe("the fix of kafkajs' produce request", () => {
  const onePass = makeKafkajsProduceRequest({ released, Encoder, Long, crc32c });

  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
  afterEach(() => jest.restoreAllMocks());

  it("recognises kafkajs 2.2.4's produce request of version 3, and nothing else", () => {
    expect(isKafkajsProduceRequestV3(released)).toBe(true);
    expect(isKafkajsProduceRequestV3(onePass)).toBe(false);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(isKafkajsProduceRequestV3(require('kafkajs/src/protocol/requests/produce/v7/request'))).toBe(false);
    expect(isKafkajsProduceRequestV3('const encodeTopic = topicEncoder(compression)')).toBe(false);
  });

  it('encodes any request byte for byte as kafkajs does', async () => {
    for (const options of arbitraryRequests()) {
      const expected = await outcome(released, options);
      expect(typeof expected).not.toBe('string');
      expectSameEncoding(await outcome(onePass, options), expected);
    }
  });

  it('fails where kafkajs fails, with the same error', async () => {
    const bad: Record<string, unknown>[] = [
      { key: 'k', value: 'v', headers: { absent: undefined } },
      { key: 'k', value: 'v', headers: { nothing: null } },
      { key: 'k', value: 'v', headers: { number: 7 } },
      { key: 'k', value: 'v', headers: { nested: [['a']] } },
      { key: 'k', value: 'v', headers: null },
      { key: 'k', value: 9 },
      { key: {}, value: 'v' },
      { key: 'k', value: 'v', timestamp: NOW + 0.5 },
    ];
    for (const message of bad) {
      const expected = await outcome(released, oneMessage(message));
      expect(typeof expected).toBe('string');
      expect(await outcome(onePass, oneMessage(message))).toEqual(expected);
    }
  });

  it('leaves a compressed request to kafkajs', async () => {
    const options = { ...arbitraryRequests()[0], compression: 1 };
    const request = onePass(options);
    expect(request.encode.toString()).toBe(released(options).encode.toString());
  });

  it('hands kafkajs an encoder its request framing takes, with the same apiKey, version and response', async () => {
    const options = arbitraryRequests()[2];
    const [ours, theirs] = [onePass(options), released(options)];
    for (const field of ['apiKey', 'apiVersion', 'apiName'] as const) expect(ours[field]).toBe(theirs[field]);
    expect(ours.expectResponse()).toBe(theirs.expectResponse());
    const body = await ours.encode();
    expect(body).toBeInstanceOf(Encoder);
    const framed = (request: typeof ours) => frame({ correlationId: 7, clientId: 'asana-stream', request });
    expect((await framed(ours)).buffer.equals((await framed(theirs)).buffer)).toBe(true);
  });

  describe('put in place', () => {
    const topicData = () =>
      arbitraryRequests()[1].topicData.concat({
        topic: 'asana.deliveries',
        partitions: [{ partition: 1, messages: [{ key: 'k', value: Buffer.from('{}'), headers: { a: 'b' } }] }],
      });
    let expected: Buffer;
    beforeAll(async () => {
      jest.spyOn(Date, 'now').mockReturnValue(NOW);
      expected = await encodeKafkajsProduceRequest(require, topicData());
    });

    it("takes the place of kafkajs' produce request before a producer first loads it, once", async () => {
      await inFreshModuleRegistry(async (load) => {
        expect(fixKafkajsProduceRequest(load)).toBe(true);
        expect(fixKafkajsProduceRequest(load)).toBe(true);
        expect(isKafkajsProduceRequestV3(load(KAFKAJS_MODULES.produceRequest))).toBe(false);
        expect((await encodeKafkajsProduceRequest(load, topicData())).equals(expected)).toBe(true);
        // What a producer talking to a broker of Kafka 2.1 or later loads: version 7, on version 3.
        const v7 = load('kafkajs/src/protocol/requests/produce/v7/request') as KafkajsProduceV3;
        const request = v7({ acks: -1, timeout: 30_000, topicData: topicData() });
        expect(request.apiVersion).toBe(7);
        const body = (await request.encode()).buffer;
        expect(body.equals(expected)).toBe(true);
      });
      expect(isKafkajsProduceRequestV3(released)).toBe(true);
    });

    it('leaves kafkajs alone once a later produce request has loaded with its own', async () => {
      await inFreshModuleRegistry(async (load) => {
        load('kafkajs/src/protocol/requests/produce/v5/request');
        expect(fixKafkajsProduceRequest(load)).toBe(false);
        expect(isKafkajsProduceRequestV3(load(KAFKAJS_MODULES.produceRequest))).toBe(true);
      });
    });
  });
});
