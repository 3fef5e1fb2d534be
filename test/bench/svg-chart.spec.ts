import { chartAxes, lineChartSvg, project, type LineChartOptions } from '../../bench/lib/svg-chart';

const latencyChart: LineChartOptions = {
  title: 'pipeline latency <p50 & p99>',
  xLabel: 'offered load (events/s)',
  yLabel: 'latency (ms)',
  yScale: 'log',
  series: [
    {
      name: 'p50',
      points: [
        { x: 500, y: 40 },
        { x: 250, y: 30 },
        { x: 1000, y: 80 },
      ],
    },
    {
      name: 'p99',
      dash: '6 3',
      points: [
        { x: 250, y: 120 },
        { x: 500, y: 200 },
        { x: 1000, y: 2500 },
      ],
    },
  ],
  markers: [{ x: 750, label: 'sustained' }],
  width: 800,
  height: 450,
};

/** Element names in document order, with a check that every opened element is closed in order. */
function wellFormedElements(svg: string): string[] {
  const body = svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  const stack: string[] = [];
  const names: string[] = [];
  for (const [, closing, name, , selfClosing] of body.matchAll(
    /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g,
  )) {
    if (closing) {
      expect(stack.pop()).toBe(name);
    } else {
      names.push(name);
      if (!selfClosing) stack.push(name);
    }
  }
  expect(stack).toEqual([]);
  // Nothing but tags and escaped text: no stray `<` or unescaped `&`.
  const text = body.replace(/<[^>]*>/g, '');
  expect(text).not.toMatch(/[<>]/);
  expect(text).not.toMatch(/&(?!amp;|lt;|gt;|quot;)/);
  return names;
}

describe('chartAxes', () => {
  it('runs x from 0 to a round number at or above the largest value or marker', () => {
    const axes = chartAxes(latencyChart);
    expect(axes.x.min).toBe(0);
    expect(axes.x.max).toBe(1000);
    expect(axes.x.ticks[0]).toBe(0);
    expect(axes.x.ticks[axes.x.ticks.length - 1]).toBe(1000);
    expect(chartAxes({ series: [{ name: 'a', points: [{ x: 1234, y: 1 }] }] }).x.max).toBe(1500);
  });

  it('spans whole decades on a log y axis', () => {
    const axes = chartAxes(latencyChart);
    expect(axes.y).toEqual({ min: 10, max: 10_000, ticks: [10, 100, 1000, 10_000], scale: 'log' });
    expect(chartAxes({ yScale: 'log', series: [{ name: 'a', points: [{ x: 1, y: 0.5 }] }] }).y.ticks).toEqual([0.1, 1]);
  });

  it('starts a linear y axis at 0 and refuses a chart without points', () => {
    const axes = chartAxes({ series: [{ name: 'a', points: [{ x: 1, y: 37 }] }] });
    expect(axes.y.min).toBe(0);
    expect(axes.y.max).toBe(40);
    expect(() => chartAxes({ series: [{ name: 'a', points: [] }] })).toThrow('at least one point');
  });
});

describe('project', () => {
  it('maps the axis ends to the pixel ends, log axes by decade', () => {
    const axis = { min: 10, max: 1000, ticks: [10, 100, 1000], scale: 'log' as const };
    expect(project(axis, 10, 400, 40)).toBe(400);
    expect(project(axis, 100, 400, 40)).toBe(220);
    expect(project(axis, 1000, 400, 40)).toBe(40);
    // Below the axis (or 0 on a log axis): drawn at its minimum.
    expect(project(axis, 0, 400, 40)).toBe(400);
    expect(project({ min: 0, max: 100, ticks: [], scale: 'linear' }, 25, 0, 200)).toBe(50);
  });
});

describe('lineChartSvg', () => {
  const svg = lineChartSvg(latencyChart);

  it('is a well-formed SVG document of the given size', () => {
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')).toBe(
      true,
    );
    expect(svg).toContain('width="800" height="450" viewBox="0 0 800 450"');
    const names = wellFormedElements(svg);
    expect(names[0]).toBe('svg');
    expect(names.filter((n) => n === 'polyline')).toHaveLength(2);
    expect(names.filter((n) => n === 'circle')).toHaveLength(6);
  });

  it('escapes text and labels the axes, log scale included', () => {
    expect(svg).toContain('pipeline latency &lt;p50 &amp; p99&gt;');
    expect(svg).toContain('offered load (events/s)');
    expect(svg).toContain('latency (ms) (log scale)');
    expect(svg).toContain('>10,000</text>');
    expect(svg).toContain('sustained');
  });

  it('draws each series through its points in x order, within the plot area', () => {
    const axes = chartAxes(latencyChart);
    // Plot area: x 70..610 (800 - 190), y 400 (450 - 50) .. 40.
    const point = (x: number, y: number) => `${project(axes.x, x, 70, 610)},${project(axes.y, y, 400, 40)}`;
    expect(svg).toContain(`points="${point(250, 30)} ${point(500, 40)} ${point(1000, 80)}"`);
    expect(svg).toContain(`points="${point(250, 120)} ${point(500, 200)} ${point(1000, 2500)}"`);
    expect(point(1000, 10_000)).toBe('610,40');
    expect(point(0, 10)).toBe('70,400');
    expect(svg).toContain('stroke-dasharray="6 3"');
    for (const [, cx, cy] of svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)) {
      expect(Number(cx)).toBeGreaterThanOrEqual(70);
      expect(Number(cx)).toBeLessThanOrEqual(610);
      expect(Number(cy)).toBeGreaterThanOrEqual(40);
      expect(Number(cy)).toBeLessThanOrEqual(400);
    }
  });
});
