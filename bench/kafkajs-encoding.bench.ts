import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defineBenchmark } from './lib/benchmark';
import { buildRoot, repoRoot } from './lib/paths';
import { round } from './lib/stats';

const run = promisify(execFile);

/** ingest's produce requests at its maximum rates: many 1-event deliveries, or fewer 10-event ones. */
const SHAPES = [
  { figure: 'encoding_cpu_1_event_deliveries', deliveries: 20, events: 1, requests: 20_000 },
  { figure: 'encoding_cpu_10_event_deliveries', deliveries: 5, events: 10, requests: 10_000 },
] as const;
/** `--quick`: a tenth of the requests. */
const QUICK_DIVISOR = 10;
/** What the fixes must keep off kafkajs' CPU, as this project's own bar (no issue sets one). */
const MAX_RATIO = 0.75;

interface ProbeResult {
  cpuUsPerDelivery: number;
  mended: boolean;
}

/** One probe process (bench/lib/kafkajs-encoding-probe.ts): kafkajs' CPU per delivery, released or mended. */
async function probe(
  mode: 'released' | 'mended',
  shape: (typeof SHAPES)[number],
  quick: boolean,
): Promise<ProbeResult> {
  const requests = quick ? shape.requests / QUICK_DIVISOR : shape.requests;
  const script = join(buildRoot(), 'bench/lib/kafkajs-encoding-probe.js');
  const { stdout } = await run(
    process.execPath,
    [script, mode, String(shape.deliveries), String(shape.events), String(requests)],
    { cwd: repoRoot(), env: { PATH: process.env.PATH ?? '' } },
  );
  const result = JSON.parse(stdout.trim()) as ProbeResult;
  if (result.mended !== (mode === 'mended')) throw new Error(`the ${mode} probe answered for the other mode`);
  return result;
}

export default defineBenchmark({
  name: 'kafkajs-encoding',
  description:
    "the CPU kafkajs spends encoding produce requests of ingest's messages (records, headers, CRC-32C), mended by libs/kafka's applyKafkajsFixes, against kafkajs 2.2.4 as released; each a process of its own, one after the other",
  figures: SHAPES.map(({ figure, deliveries, events }) => ({
    name: figure,
    unit: 'µs CPU per delivery',
    baseline: `kafkajs 2.2.4 as released, same produce requests (${deliveries} deliveries of ${events} event(s) each: the raw delivery record with its seven headers, and the events)`,
    higherIsBetter: false,
    target: { maxValue: (released: number) => released * MAX_RATIO },
    targetRule: `≤ ${MAX_RATIO * 100} % of kafkajs as released (this project's bar for its kafkajs fixes)`,
  })),

  async setup(ctx) {
    ctx.log('each run: a released and a mended probe process per request shape');
  },

  async run(_session, ctx) {
    const samples: Record<string, { value: number; baselineValue: number; detail: string }> = {};
    for (const shape of SHAPES) {
      const released = await probe('released', shape, ctx.options.quick);
      const mended = await probe('mended', shape, ctx.options.quick);
      const detail = `released ${round(released.cpuUsPerDelivery, 2)} µs, mended ${round(mended.cpuUsPerDelivery, 2)} µs per delivery`;
      ctx.log(`${shape.figure}: ${detail}`);
      samples[shape.figure] = {
        value: mended.cpuUsPerDelivery,
        baselineValue: released.cpuUsPerDelivery,
        detail,
      };
    }
    return samples;
  },
});
