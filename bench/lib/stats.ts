/** Pure statistics shared by every benchmark: percentiles, medians, and folding runs into one figure. */

/** The p-th percentile (0 < p ≤ 100) by nearest rank: a value that was actually observed. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  if (!(p > 0 && p <= 100)) throw new Error(`percentile must be in (0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/** The median; for an even count, the mean of the two middle values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Rounds to `digits` decimals (results files stay readable; runs drift far more than this). */
export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** p50, p90, p99 and max of latencies (ms). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summariseLatencies(latenciesMs: readonly number[]): LatencySummary {
  return {
    count: latenciesMs.length,
    p50: round(percentile(latenciesMs, 50)),
    p90: round(percentile(latenciesMs, 90)),
    p99: round(percentile(latenciesMs, 99)),
    max: round(Math.max(...latenciesMs)),
  };
}

/**
 * What a figure is held to. Most targets are a plain ratio (`≥ 0.4` of the baseline). Some of the
 * issue's bounds are absolute (p99 ≤ 1 s) or additive (≤ no-op p99 + 15 ms); those become the
 * ratio that bound amounts to for the baseline measured in the same run.
 */
export type FigureTarget = { ratio: number } | { maxValue: (baselineValue: number) => number };

export interface FigureSpec {
  /** e.g. `max_rate_vs_noop`. */
  name: string;
  unit: string;
  /** What ran beside it in the same invocation. */
  baseline: string;
  higherIsBetter: boolean;
  target: FigureTarget;
  /** The target in words, as the issue states it, e.g. `≥ 40 % of the no-op route`. */
  targetRule: string;
}

/** One run's measurement of one figure, with its baseline from the same run. */
export interface RunSample {
  value: number;
  baselineValue: number;
  /** What else the run saw (errors, rates used, caps), shown beside the figure. */
  detail?: string;
}

/** One figure as bench/results/<name>.json holds it (see bench/bench-results.schema.json). */
export interface FigureResult {
  name: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  ratio: number;
  target: number;
  higher_is_better: boolean;
  runs: number;
  spread: string;
  target_rule: string;
  pass: boolean;
  detail?: string;
  per_run: { value: number; baseline_value: number; ratio: number; detail?: string }[];
}

/** The ratio a figure must reach (higher is better) or stay under (lower is better), given its baseline. */
export function targetRatio(target: FigureTarget, baselineValue: number): number {
  return 'ratio' in target ? target.ratio : target.maxValue(baselineValue) / baselineValue;
}

/** ≥ 1 when the run meets its target: how far above (or below) it the ratio is, as a factor. */
function margin(spec: FigureSpec, ratio: number, target: number): number {
  return spec.higherIsBetter ? ratio / target : target / ratio;
}

/**
 * Folds the runs of one figure into its result. The reported value, baseline and ratio all come
 * from one run, the median one (ranked by how well it meets its target; for an even count the
 * worse of the two middle runs), so `ratio` is that run's `value / baseline_value`, two numbers
 * measured side by side. `spread` is the ratio's min..max over all runs.
 */
export function summariseFigure(spec: FigureSpec, samples: readonly RunSample[]): FigureResult {
  if (samples.length === 0) throw new Error(`figure ${spec.name} has no runs`);
  const runs = samples.map((sample) => {
    if (!(sample.baselineValue > 0)) throw new Error(`figure ${spec.name}: baseline must be positive`);
    const ratio = sample.value / sample.baselineValue;
    const target = targetRatio(spec.target, sample.baselineValue);
    return { sample, ratio, target, margin: margin(spec, ratio, target) };
  });
  const ranked = [...runs].sort((a, b) => a.margin - b.margin);
  const chosen = ranked[Math.floor((ranked.length - 1) / 2)];
  const ratios = runs.map((run) => run.ratio);
  return {
    name: spec.name,
    value: round(chosen.sample.value),
    unit: spec.unit,
    baseline: spec.baseline,
    baseline_value: round(chosen.sample.baselineValue),
    ratio: round(chosen.ratio, 4),
    target: round(chosen.target, 4),
    higher_is_better: spec.higherIsBetter,
    runs: samples.length,
    spread: `${round(Math.min(...ratios), 4)}..${round(Math.max(...ratios), 4)}`,
    target_rule: spec.targetRule,
    pass: chosen.margin >= 1,
    ...(chosen.sample.detail ? { detail: chosen.sample.detail } : {}),
    per_run: runs.map(({ sample, ratio }) => ({
      value: round(sample.value),
      baseline_value: round(sample.baselineValue),
      ratio: round(ratio, 4),
      ...(sample.detail ? { detail: sample.detail } : {}),
    })),
  };
}
