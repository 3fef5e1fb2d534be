/**
 * One process's measurement for bench/kafkajs-encoding.bench.ts: the CPU kafkajs spends encoding
 * produce requests of ingest's messages, with kafkajs as released or mended by libs/kafka's
 * `applyKafkajsFixes`. A process of its own each: the fixes change kafkajs' modules in place.
 *
 *   node kafkajs-encoding-probe.js <released|mended> <deliveries per request> <events per delivery> <requests>
 *
 * Prints one JSON line: `{ "cpuUsPerDelivery": number, "mended": boolean }`.
 */
import type { Message } from 'kafkajs';
import * as kafkaLib from '@asana-stream/kafka';
import { ASANA_HOOK_SIGNATURE_HEADER } from '@asana-stream/asana';
import { benchEvent, eventMessage } from './asana-deliveries';

interface ProduceRequest {
  encode(): Promise<{ buffer: Buffer }>;
}
type ProduceV3 = (options: Record<string, unknown>) => ProduceRequest;

const SUBSCRIPTION_ID = '81c941cc-0ddb-4d84-807c-73df8f6b5269';
/** Requests encoded before the measured ones, so that V8 has optimised the code. */
const WARMUP_REQUESTS = 2000;

/** ingest's `asana.deliveries` record of a delivery: the raw body, and its seven headers. */
function rawDeliveryMessage(events: number, first: number): Message {
  const body = Buffer.from(JSON.stringify({ events: Array.from({ length: events }, (_, e) => benchEvent(first + e)) }));
  return {
    key: SUBSCRIPTION_ID,
    value: body,
    headers: {
      subscriptionId: SUBSCRIPTION_ID,
      deliveryId: 'd'.repeat(32),
      receivedAt: new Date().toISOString(),
      eventCount: String(events),
      'content-type': 'application/json',
      'user-agent': 'Asana',
      [ASANA_HOOK_SIGNATURE_HEADER]: 'f'.repeat(64),
    },
  };
}

async function main(): Promise<void> {
  const [mode, deliveriesArg, eventsArg, requestsArg] = process.argv.slice(2);
  if ((mode !== 'released' && mode !== 'mended') || !deliveriesArg || !eventsArg || !requestsArg) {
    throw new Error('usage: kafkajs-encoding-probe <released|mended> <deliveries> <events per delivery> <requests>');
  }
  const [deliveries, events, requests] = [deliveriesArg, eventsArg, requestsArg].map(Number);
  if (mode === 'mended') {
    // As bench/lib/kafka.ts: with `--ref` to a commit before `applyKafkajsFixes`, what it had.
    ((kafkaLib as Partial<typeof kafkaLib>).applyKafkajsFixes ?? kafkaLib.fixKafkajsIdleTimerLoop)();
  }
  // kafkajs' produce request (not exported by kafkajs: its file), after the fixes, as a producer loads it.
  // Loaded here, not with libs/kafka's encodeKafkajsProduceRequest: with `--ref`, the libs may predate it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const produceV3 = require('kafkajs/src/protocol/requests/produce/v3/request') as ProduceV3;
  const raw = Array.from({ length: deliveries }, (_, d) => rawDeliveryMessage(events, d * events));
  const eventMessages = Array.from({ length: deliveries * events }, (_, n) =>
    eventMessage(benchEvent(n), SUBSCRIPTION_ID),
  );
  const timestamp = Date.now();
  const stamp = (messages: Message[]) => messages.map((message, i) => ({ ...message, timestamp: timestamp + i }));
  const request = () =>
    produceV3({
      acks: -1,
      timeout: 30_000,
      topicData: [
        { topic: 'asana.deliveries', partitions: [{ partition: 0, firstSequence: 0, messages: stamp(raw) }] },
        { topic: 'asana.events', partitions: [{ partition: 0, firstSequence: 0, messages: stamp(eventMessages) }] },
      ],
    }).encode();
  for (let i = 0; i < WARMUP_REQUESTS; i++) await request();
  const before = process.cpuUsage();
  for (let i = 0; i < requests; i++) await request();
  const used = process.cpuUsage(before);
  const cpuUsPerDelivery = (used.user + used.system) / (requests * deliveries);
  process.stdout.write(`${JSON.stringify({ cpuUsPerDelivery, mended: mode === 'mended' })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
