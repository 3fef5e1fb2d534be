import type { BenchResults } from './results';
import type { FigureResult } from './stats';

/** docs/benchmarks.md keeps its hand-written intro; only the part between these markers is generated. */
export const GENERATED_START =
  '<!-- bench:generated:start (written by `npm run bench`; edit bench/lib/report.ts instead) -->';
export const GENERATED_END = '<!-- bench:generated:end -->';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function formatNumber(value: number): string {
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 1) return value.toFixed(2).replace(/\.?0+$/, '');
  return String(Number(value.toPrecision(3)));
}

function targetCell(figure: FigureResult): string {
  return `${figure.higher_is_better ? '≥' : '≤'} ${formatNumber(figure.target)} (${figure.target_rule})`;
}

function figureRow(figure: FigureResult): string {
  return [
    figure.name,
    `${formatNumber(figure.value)} ${figure.unit}`,
    `${formatNumber(figure.baseline_value)} ${figure.unit}: ${figure.baseline}`,
    formatNumber(figure.ratio),
    targetCell(figure),
    `${figure.spread} (${figure.runs} ${figure.runs === 1 ? 'run' : 'runs'})`,
    figure.pass ? 'pass' : '**fail**',
  ]
    .map(cell)
    .join(' | ');
}

/** One benchmark's section: when, where and how it ran, then its figures. */
export function renderBenchmark(results: BenchResults): string {
  const lines = [
    `### ${results.benchmark}`,
    '',
    `- date: ${results.date}`,
    `- commit: ${results.commit}`,
    `- command: \`${results.command}\``,
    `- machine: ${results.machine}`,
    '',
    '| figure | value | baseline (same run) | ratio | target | ratio spread | result |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...results.figures.map((figure) => `| ${figureRow(figure)} |`),
  ];
  const details = results.figures.filter((figure) => figure.detail);
  if (details.length > 0) {
    lines.push('', 'What the median run saw:', '');
    for (const figure of details) lines.push(`- \`${figure.name}\`: ${figure.detail ?? ''}`);
  }
  return lines.join('\n');
}

/** The generated part of docs/benchmarks.md, from every results file (so a partial run keeps the others). */
export function renderResults(all: BenchResults[], invalid: string[] = []): string {
  const sections = all.length ? all.map(renderBenchmark) : ['No results yet: run `npm run bench`.'];
  const warnings = invalid.map((problem) => `- ignored an invalid results file: ${problem}`);
  return [
    GENERATED_START,
    '',
    ...sections.flatMap((s) => [s, '']),
    ...warnings,
    ...(warnings.length ? [''] : []),
    GENERATED_END,
  ].join('\n');
}

/** Replaces the generated part of `document` (or appends it when the markers are missing). */
export function replaceGenerated(document: string, generated: string): string {
  const start = document.indexOf(GENERATED_START);
  const end = document.indexOf(GENERATED_END);
  if (start === -1 || end === -1 || end < start) return `${document.trimEnd()}\n\n${generated}\n`;
  return `${document.slice(0, start)}${generated}${document.slice(end + GENERATED_END.length)}`;
}
