import type { TopicNames } from '@asana-stream/contracts';
import type { FigureSpec, RunSample } from './stats';

/** What `npm run bench` was told; benchmarks read what applies to them. */
export interface BenchOptions {
  /** Repetitions of each figure; the median is reported. */
  runs: number;
  /** Shorter everything, for trying the benchmarks out (results say so in their command). */
  quick: boolean;
  /** Seconds each rate measurement lasts. */
  durationS: number;
  /** Seconds of load before each measurement, not counted. */
  warmupS: number;
  /** Messages in the consumer benchmark's backlog. */
  messages: number;
  /** Longest a consumer may take to drain the backlog; a slower one is measured over what it drained. */
  drainTimeoutS: number;
  /** Whether the apps a benchmark starts write V8 CPU profiles (`--cpu-prof`) into its log folder. */
  cpuProfile: boolean;
  /** Whether the apps trace and export their spans (`--traced`), as with `OTEL_EXPORTER_OTLP_ENDPOINT` set. */
  traced: boolean;
  /** With `traced`: the sampler the apps were given (`OTEL_TRACES_SAMPLER[:ARG]` of the bench's environment). */
  tracesSampler?: string;
}

/** An asana-stream installation of this invocation: a database and the topology's topics, both of the bench. */
export interface Installation {
  names: TopicNames;
  databaseUrl: string;
  /** The environment an app of this installation runs with (database, broker, topic prefix). */
  env: Record<string, string>;
}

export interface BenchContext {
  options: BenchOptions;
  /** A topic and consumer-group prefix no one else uses, e.g. `bench.1a2b3c4d.`. */
  prefix: string;
  brokers: string;
  /** The Postgres server (its `postgres` database). */
  postgresServerUrl: string;
  /** Where the processes a benchmark starts write their output. */
  logDir: string;
  log(message: string): void;
  /** Created on first use (`asana-stream setup`), removed at the end (`asana-stream reset`). */
  installation(): Promise<Installation>;
  /** Runs at the end, last registered first, whether the benchmark succeeded or not. */
  onCleanup(cleanup: () => Promise<void>): void;
}

/**
 * One benchmark: bench/<name>.bench.ts default-exports one, and `npm run bench` finds it.
 * `setup` prepares what every run shares; each `run` measures every figure once, each beside
 * its baseline, and returns one sample per figure name.
 */
export interface Benchmark<Session = unknown> {
  name: string;
  description: string;
  figures: FigureSpec[];
  setup(ctx: BenchContext): Promise<Session>;
  run(session: Session, ctx: BenchContext, run: number): Promise<Record<string, RunSample>>;
}

export function defineBenchmark<Session>(benchmark: Benchmark<Session>): Benchmark<Session> {
  return benchmark;
}
