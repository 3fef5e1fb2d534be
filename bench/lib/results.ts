import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { FigureResult } from './stats';
import { repoRoot } from './paths';

/** One benchmark's results, the content of bench/results/<benchmark>.json. */
export interface BenchResults {
  benchmark: string;
  /** The exact command that produced the file. */
  command: string;
  /** ISO 8601, when the benchmark started. */
  date: string;
  /** HEAD, and which files differed from it. */
  commit: string;
  /** Cores, memory, Node, Kafka and Postgres versions, load when the run started. */
  machine: string;
  /** What the run was told (runs, durations, message counts). */
  options: Record<string, number | boolean | string>;
  figures: FigureResult[];
}

/** The schema every results file follows: a copy of the issue's ../shared/bench-results.schema.json. */
export const RESULTS_SCHEMA_PATH = join(repoRoot(), 'bench/bench-results.schema.json');
export const RESULTS_DIR = join(repoRoot(), 'bench/results');

let validator: ReturnType<Ajv2020['compile']> | undefined;

/** The problems that keep `results` from matching the schema, plus ratios that are not value / baseline. */
export function resultsProblems(results: unknown): string[] {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(RESULTS_SCHEMA_PATH, 'utf8')) as object);
  }
  if (!validator(results)) {
    return (validator.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? 'is invalid'}`);
  }
  const problems: string[] = [];
  for (const figure of (results as { figures: FigureResult[] }).figures) {
    const expected = figure.value / figure.baseline_value;
    // value and baseline_value are rounded to 2 decimals, the ratio to 4, after dividing.
    if (Math.abs(expected - figure.ratio) > Math.max(0.0005, Math.abs(expected) * 0.01)) {
      problems.push(`/figures/${figure.name} ratio ${figure.ratio} is not value / baseline_value (${expected})`);
    }
  }
  return problems;
}

/** Validates and writes bench/results/<benchmark>.json; returns its path. */
export function writeResults(results: BenchResults, dir = RESULTS_DIR): string {
  const problems = resultsProblems(results);
  if (problems.length > 0)
    throw new Error(`results of ${results.benchmark} do not match the schema: ${problems.join('; ')}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${results.benchmark}.json`);
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}

/** Every valid results file in `dir`, by benchmark name; invalid ones are reported, not shown. */
export function readAllResults(dir = RESULTS_DIR): { results: BenchResults[]; invalid: string[] } {
  const results: BenchResults[] = [];
  const invalid: string[] = [];
  let files: string[];
  try {
    files = readdirSync(dir).filter((file) => file.endsWith('.json'));
  } catch {
    return { results, invalid };
  }
  for (const file of files.sort()) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      const problems = resultsProblems(parsed);
      if (problems.length === 0) results.push(parsed as BenchResults);
      else invalid.push(`${file}: ${problems.join('; ')}`);
    } catch (error) {
      invalid.push(`${file}: ${(error as Error).message}`);
    }
  }
  return { results, invalid };
}
