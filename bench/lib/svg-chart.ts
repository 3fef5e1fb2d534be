/**
 * A small line chart as a standalone SVG document, written by hand so that a benchmark can draw
 * its figures without a browser, a plotting service or a dependency. Pure: data in, text out.
 */

export interface ChartPoint {
  x: number;
  y: number;
}

export interface ChartSeries {
  /** Shown in the legend and in each point's tooltip. */
  name: string;
  points: ChartPoint[];
  /** Any SVG colour; the default palette cycles otherwise. */
  color?: string;
  /** `stroke-dasharray`, e.g. `6 3`. */
  dash?: string;
}

/** A vertical line at `x` with a label, e.g. the highest rate a system sustained. */
export interface ChartMarker {
  x: number;
  label: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** `log`: powers of ten on the y axis; values ≤ 0 are drawn at the axis' minimum. */
  yScale?: 'linear' | 'log';
  markers?: ChartMarker[];
  width?: number;
  height?: number;
}

export interface Axis {
  min: number;
  max: number;
  ticks: number[];
  scale: 'linear' | 'log';
}

export interface ChartAxes {
  x: Axis;
  y: Axis;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const MARGIN = { top: 40, right: 190, bottom: 50, left: 70 };

/** 1, 2 or 5 times a power of ten: the step of about `count` ticks over `span`. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power;
}

/** A linear axis from 0 (or below, for negative data) to a round number at or above the largest value. */
function linearAxis(values: number[]): Axis {
  const low = Math.min(0, ...values);
  const high = Math.max(...values);
  if (high === low) return { min: low, max: low + 1, ticks: [low, low + 1], scale: 'linear' };
  const step = niceStep(high - low, 5);
  const min = Math.floor(low / step) * step;
  const max = Math.ceil(high / step) * step;
  const ticks: number[] = [];
  for (let tick = min; tick <= max + step / 2; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return { min, max, ticks, scale: 'linear' };
}

/** A log axis from the power of ten at or below the smallest positive value to the one at or above the largest. */
function logAxis(values: number[]): Axis {
  const positive = values.filter((v) => v > 0);
  if (positive.length === 0) return { min: 1, max: 10, ticks: [1, 10], scale: 'log' };
  let low = Math.floor(Math.log10(Math.min(...positive)));
  let high = Math.ceil(Math.log10(Math.max(...positive)));
  if (high === low) high = low + 1;
  // Round to whole decades, then keep the tick labels exact (0.1, not 0.10000000000000001).
  low = Math.max(low, -6);
  const ticks: number[] = [];
  for (let exponent = low; exponent <= high; exponent++) ticks.push(Number((10 ** exponent).toPrecision(1)));
  return { min: ticks[0], max: ticks[ticks.length - 1], ticks, scale: 'log' };
}

/** The axes a chart of `options` draws: ranges and tick values, from every series' points and markers. */
export function chartAxes(options: Pick<LineChartOptions, 'series' | 'yScale' | 'markers'>): ChartAxes {
  const points = options.series.flatMap((s) => s.points);
  if (points.length === 0) throw new Error('a chart needs at least one point');
  const xs = [...points.map((p) => p.x), ...(options.markers ?? []).map((m) => m.x)];
  const ys = points.map((p) => p.y);
  return { x: linearAxis(xs), y: options.yScale === 'log' ? logAxis(ys) : linearAxis(ys) };
}

/** Where `value` lands between `from` (at axis.min) and `to` (at axis.max), in pixels. */
export function project(axis: Axis, value: number, from: number, to: number): number {
  let share: number;
  if (axis.scale === 'log') {
    const clamped = Math.max(value, axis.min);
    share = (Math.log10(clamped) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min));
  } else {
    share = (value - axis.min) / (axis.max - axis.min);
  }
  return round1(from + share * (to - from));
}

const round1 = (value: number) => Math.round(value * 10) / 10;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function tickLabel(value: number): string {
  if (Math.abs(value) >= 1000) return value.toLocaleString('en-US', { maximumFractionDigits: 0 });
  return String(Number(value.toPrecision(6)));
}

/** The chart as an SVG 1.1 document: axes with ticks and grid, one polyline with dots per series, a legend. */
export function lineChartSvg(options: LineChartOptions): string {
  const width = options.width ?? 800;
  const height = options.height ?? 450;
  const axes = chartAxes(options);
  const left = MARGIN.left;
  const right = width - MARGIN.right;
  const top = MARGIN.top;
  const bottom = height - MARGIN.bottom;
  const px = (x: number) => project(axes.x, x, left, right);
  const py = (y: number) => project(axes.y, y, bottom, top);
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  for (const tick of axes.x.ticks) {
    const x = px(tick);
    out.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${bottom + 16}" text-anchor="middle">${escapeXml(tickLabel(tick))}</text>`,
    );
  }
  for (const tick of axes.y.ticks) {
    const y = py(tick);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${escapeXml(tickLabel(tick))}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="#333333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333333"/>`,
    `<text x="${(left + right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text x="16" y="${(top + bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + bottom) / 2})">${escapeXml(
      options.yLabel + (axes.y.scale === 'log' ? ' (log scale)' : ''),
    )}</text>`,
  );
  for (const marker of options.markers ?? []) {
    const x = px(marker.x);
    out.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#555555" stroke-dasharray="2 4"/>`,
      `<text x="${x + 4}" y="${top + 12}" fill="#555555">${escapeXml(marker.label)}</text>`,
    );
  }
  options.series.forEach((series, i) => {
    const color = series.color ?? PALETTE[i % PALETTE.length];
    const dash = series.dash ? ` stroke-dasharray="${escapeXml(series.dash)}"` : '';
    const sorted = [...series.points].sort((a, b) => a.x - b.x);
    const coordinates = sorted.map((p) => `${px(p.x)},${py(p.y)}`).join(' ');
    out.push(`<g class="series" data-name="${escapeXml(series.name)}">`);
    if (sorted.length > 1)
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${coordinates}"/>`);
    for (const p of sorted) {
      out.push(
        `<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3" fill="${color}"><title>${escapeXml(
          `${series.name}: ${tickLabel(p.x)} → ${tickLabel(p.y)}`,
        )}</title></circle>`,
      );
    }
    out.push('</g>');
    const ly = top + 10 + i * 18;
    out.push(
      `<line x1="${right + 15}" y1="${ly}" x2="${right + 45}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${right + 50}" y="${ly + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
