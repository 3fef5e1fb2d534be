import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { format, resolveConfig } from 'prettier';
import type { Benchmark, BenchContext, BenchOptions, Installation } from './lib/benchmark';
import { createInstallation } from './lib/installation';
import { describeCommit, describeMachine } from './lib/machine';
import { OtlpSink, samplerSettings } from './lib/otlp-sink';
import { repoRoot } from './lib/paths';
import { readAllResults, RESULTS_DIR, writeResults, type BenchResults } from './lib/results';
import { renderResults, replaceGenerated } from './lib/report';
import { summariseFigure, type RunSample } from './lib/stats';

/** Every bench/<name>.bench.ts, compiled next to this file: adding a benchmark is adding a file. */
async function discoverBenchmarks(): Promise<Benchmark[]> {
  const files = readdirSync(__dirname).filter((file) => file.endsWith('.bench.js'));
  const loaded = await Promise.all(
    files.sort().map(async (file) => ((await import(join(__dirname, file))) as { default: Benchmark }).default),
  );
  return loaded;
}

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};
const positiveNumber = (value: string) => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
};

interface CliOptions {
  runs?: number;
  quick?: boolean;
  duration?: number;
  warmup?: number;
  messages?: number;
  drainTimeout?: number;
  ref?: string;
  cpuProf?: boolean;
  traced?: boolean;
  docs: boolean;
}

/** `sampler`: the bench's `OTEL_TRACES_SAMPLER[_ARG]`, which a traced run passes on to the apps. */
function benchOptions(cli: CliOptions, sampler: Record<string, string>): BenchOptions {
  const quick = cli.quick ?? false;
  return {
    runs: cli.runs ?? (quick ? 1 : 3),
    quick,
    durationS: cli.duration ?? (quick ? 3 : 10),
    warmupS: cli.warmup ?? (quick ? 1 : 2),
    messages: cli.messages ?? (quick ? 10_000 : 100_000),
    drainTimeoutS: cli.drainTimeout ?? (quick ? 60 : 180),
    cpuProfile: cli.cpuProf ?? false,
    traced: cli.traced ?? false,
    ...(cli.traced && sampler.OTEL_TRACES_SAMPLER ? { tracesSampler: Object.values(sampler).join(':') } : {}),
  };
}

/** The command as it was typed, for the results: `npm run bench -- …` when npm ran it. */
function commandLine(args: string[]): string {
  const quoted = args.map((arg) => (/^[\w./=:,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`));
  if (process.env.npm_lifecycle_event === 'bench')
    return ['npm run bench', ...(args.length ? ['--', ...quoted] : [])].join(' ');
  return ['bash bench/bench.sh', ...quoted].join(' ');
}

const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

/** Cleanups of one scope, last registered first; each runs once even when an earlier one fails. */
class Cleanups {
  private readonly stack: { name: string; run: () => Promise<void> }[] = [];

  add(name: string, run: () => Promise<void>): void {
    this.stack.push({ name, run });
  }

  async runAll(): Promise<void> {
    for (let item = this.stack.pop(); item; item = this.stack.pop()) {
      const { name } = item;
      await item.run().catch((error: unknown) => log(`cleanup of ${name} failed: ${(error as Error).message}`));
    }
  }
}

async function main(): Promise<void> {
  const benchmarks = await discoverBenchmarks();
  const program = new Command('npm run bench --')
    .description(
      'Runs asana-stream benchmarks, each figure beside its baseline in the same invocation, and writes ' +
        'bench/results/<benchmark>.json and docs/benchmarks.md. `npm run bench` builds first and starts ' +
        'Kafka and Postgres when they do not answer.',
    )
    .argument('[benchmarks...]', `which to run (default: all): ${benchmarks.map((b) => b.name).join(', ')}`)
    .option('--runs <n>', 'runs of each figure; the median run is reported (default 3, --quick 1)', positiveInt)
    .option('--quick', 'shorter runs to try things out: 1 run, 3 s measurements, a 10k backlog')
    .option('--duration <s>', 'seconds of each rate measurement (default 10, --quick 3)', positiveNumber)
    .option(
      '--warmup <s>',
      'seconds of load before each measurement, not counted (default 2, --quick 1)',
      positiveNumber,
    )
    .option('--messages <n>', 'messages in the consumer backlog (default 100000, --quick 10000)', positiveInt)
    .option(
      '--drain-timeout <s>',
      'cap on one drain; a slower consumer is measured over what it drained (default 180)',
      positiveNumber,
    )
    .option(
      '--ref <commit>',
      "measure that commit's apps and libs instead of the work tree's (the benchmarks stay the work tree's)",
    )
    .option('--cpu-prof', "the apps under test write V8 CPU profiles (.cpuprofile) into the run's log folder")
    .option(
      '--traced',
      'the apps trace and export their spans over OTLP/HTTP (to a sink in this process), as deployed with ' +
        'OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_TRACES_SAMPLER[_ARG] when set here); results go to ' +
        'bench/results/traced/, docs/benchmarks.md is left alone',
    )
    .option('--no-docs', 'do not rewrite docs/benchmarks.md')
    .addHelpText(
      'after',
      `\nBenchmarks and their figures:\n${benchmarks
        .map(
          (b) =>
            `  ${b.name}: ${b.description}\n${b.figures.map((f) => `    - ${f.name} (${f.unit}): ${f.targetRule}`).join('\n')}`,
        )
        .join(
          '\n',
        )}\n\nExamples:\n  npm run bench\n  npm run bench -- ingest --runs 5\n  npm run bench -- consumer --messages 20000 --quick\n`,
    );
  program.parse(process.argv);
  const args = process.argv.slice(2);
  const cli = program.opts<CliOptions>();
  const names = program.processedArgs[0] as string[];
  const unknown = names.filter((name) => !benchmarks.some((b) => b.name === name));
  if (unknown.length > 0)
    program.error(`unknown benchmark: ${unknown.join(', ')} (known: ${benchmarks.map((b) => b.name).join(', ')})`);
  const selected = names.length ? benchmarks.filter((b) => names.includes(b.name)) : benchmarks;
  const sampler = samplerSettings(process.env);
  const options = benchOptions(cli, sampler);
  // bench/bench.sh builds the commit's apps and libs; run without it, --ref would be a false label.
  if ((cli.ref ?? '') !== (process.env.BENCH_REF ?? '')) program.error('--ref works through `npm run bench` only');

  const prefix = `bench.${randomBytes(4).toString('hex')}.`;
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const serverUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  serverUrl.pathname = '/postgres';
  const logDir = join(
    repoRoot(),
    '.local/bench',
    `${new Date().toISOString().replace(/[:.]/g, '-')}-${prefix.slice(6, -1)}`,
  );
  const command = commandLine(args);
  const machine = await describeMachine(brokers, serverUrl.toString());
  const commit = describeCommit(cli.ref);
  log(`prefix ${prefix}, logs in ${logDir}`);
  log(`machine: ${machine}`);

  const global = new Cleanups();
  const sink = options.traced ? new OtlpSink() : undefined;
  const appEnv: Record<string, string> = {};
  if (sink) {
    Object.assign(appEnv, sampler, { OTEL_EXPORTER_OTLP_ENDPOINT: await sink.start() });
    global.add('OTLP sink', () => sink.stop());
    log(
      `traced: the apps export their spans to ${appEnv.OTEL_EXPORTER_OTLP_ENDPOINT}` +
        (options.tracesSampler ? `, sampler ${options.tracesSampler}` : ''),
    );
  }
  let installation: Promise<Installation> | undefined;
  let interrupted = false;
  let current: Cleanups | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up (topics, database, processes), then exiting`);
    void (async () => {
      await current?.runAll();
      await global.runAll();
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let failed = 0;
  const written: BenchResults[] = [];
  try {
    for (const benchmark of selected) {
      const cleanups = new Cleanups();
      current = cleanups;
      const ctx: BenchContext = {
        options,
        prefix,
        brokers,
        postgresServerUrl: serverUrl.toString(),
        logDir,
        log: (message) => log(`${benchmark.name}: ${message}`),
        installation: () => {
          installation ??= createInstallation(
            { prefix, brokers, postgresServerUrl: serverUrl.toString(), logDir },
            appEnv,
          ).then((created) => {
            global.add('installation', () => created.remove());
            log(`installation ready: database ${new URL(created.databaseUrl).pathname.slice(1)}, topics ${prefix}*`);
            return created;
          });
          return installation;
        },
        onCleanup: (cleanup) => cleanups.add(benchmark.name, cleanup),
      };
      const date = new Date().toISOString();
      try {
        log(`${benchmark.name}: setting up`);
        const session = await benchmark.setup(ctx);
        const samples = new Map<string, RunSample[]>(benchmark.figures.map((f) => [f.name, []]));
        for (let run = 0; run < options.runs; run++) {
          log(`${benchmark.name}: run ${run + 1} of ${options.runs}`);
          const measured = await benchmark.run(session, ctx, run);
          for (const figure of benchmark.figures) {
            const sample = measured[figure.name];
            if (!sample) throw new Error(`${benchmark.name} run ${run + 1} did not measure ${figure.name}`);
            samples.get(figure.name)!.push(sample);
          }
        }
        const results: BenchResults = {
          benchmark: benchmark.name,
          command,
          date,
          commit,
          machine,
          options: { ...options, ...(cli.ref ? { ref: cli.ref } : {}) },
          figures: benchmark.figures.map((figure) => summariseFigure(figure, samples.get(figure.name)!)),
        };
        if (sink) {
          const megabytes = (sink.bytes / 1e6).toFixed(1);
          log(`${benchmark.name}: the OTLP sink has received ${sink.exports} trace exports (${megabytes} MB) so far`);
        }
        log(`${benchmark.name}: wrote ${writeResults(results, sink ? join(RESULTS_DIR, 'traced') : RESULTS_DIR)}`);
        written.push(results);
      } catch (error) {
        failed++;
        log(`${benchmark.name} FAILED: ${(error as Error).stack ?? String(error)}`);
        if (interrupted) break;
      } finally {
        await cleanups.runAll();
        current = undefined;
      }
    }
  } finally {
    if (!interrupted) await global.runAll();
  }
  if (interrupted) return;

  if (cli.docs && !options.traced) {
    const docPath = join(repoRoot(), 'docs/benchmarks.md');
    const { results, invalid } = readAllResults();
    let document = '# Benchmarks\n';
    try {
      document = readFileSync(docPath, 'utf8');
    } catch {
      // A first run: the heading alone, the results below it.
    }
    const updated = replaceGenerated(document, renderResults(results, invalid));
    // Formatted as `npm test`'s prettier check wants it (tables aligned).
    writeFileSync(docPath, await format(updated, { ...(await resolveConfig(docPath)), filepath: docPath }));
    log(`updated ${docPath}`);
  }
  for (const results of written) {
    process.stdout.write(`\n${results.benchmark} (${results.figures[0]?.runs ?? 0} runs, median run):\n`);
    for (const f of results.figures) {
      process.stdout.write(
        `  ${f.pass ? 'pass' : 'FAIL'}  ${f.name}: ${f.value} ${f.unit} vs ${f.baseline_value} ${f.unit} → ratio ${f.ratio} ` +
          `(target ${f.higher_is_better ? '≥' : '≤'} ${f.target}: ${f.target_rule}; spread ${f.spread})\n`,
      );
    }
  }
  if (failed > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
});
