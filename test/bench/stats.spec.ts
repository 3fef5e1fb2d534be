import { median, percentile, summariseFigure, summariseLatencies, type FigureSpec } from '../../bench/lib/stats';

const throughput: FigureSpec = {
  name: 'max_rate_vs_noop',
  unit: 'deliveries/s',
  baseline: 'no-op route',
  higherIsBetter: true,
  target: { ratio: 0.4 },
  targetRule: '≥ 40 % of the no-op route',
};

const additiveLatency: FigureSpec = {
  name: 'p99_at_half_max_rate',
  unit: 'ms',
  baseline: 'no-op p99',
  higherIsBetter: false,
  target: { maxValue: (noop) => noop + 15 },
  targetRule: 'p99 ≤ no-op p99 + 15 ms',
};

describe('percentile', () => {
  it('answers an observed value by nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);

    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
  });

  it('takes the worst of few samples as their p99', () => {
    expect(percentile([1, 2, 3, 50], 99)).toBe(50);
  });

  it('refuses no values and percentiles outside (0, 100]', () => {
    expect(() => percentile([], 50)).toThrow('no values');
    expect(() => percentile([1], 0)).toThrow('(0, 100]');
    expect(() => percentile([1], 101)).toThrow('(0, 100]');
  });
});

describe('median', () => {
  it('is the middle value of an odd count and the mean of the middle two of an even one', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('summariseLatencies', () => {
  it('reports p50, p90, p99 and max, rounded to hundredths', () => {
    const latencies = Array.from({ length: 1000 }, (_, i) => (i + 1) / 3);

    expect(summariseLatencies(latencies)).toEqual({ count: 1000, p50: 166.67, p90: 300, p99: 330, max: 333.33 });
  });
});

describe('summariseFigure', () => {
  it('reports the run with the median ratio, its value and baseline side by side, and the spread of all', () => {
    const figure = summariseFigure(throughput, [
      { value: 100, baselineValue: 1000, detail: 'slow run' },
      { value: 300, baselineValue: 1000, detail: 'median run' },
      { value: 500, baselineValue: 1000, detail: 'fast run' },
    ]);

    expect(figure).toMatchObject({
      value: 300,
      baseline_value: 1000,
      ratio: 0.3,
      target: 0.4,
      runs: 3,
      spread: '0.1..0.5',
      pass: false,
      detail: 'median run',
    });
    expect(figure.per_run.map((run) => run.ratio)).toEqual([0.1, 0.3, 0.5]);
  });

  it('takes the worse of the two middle runs of an even count', () => {
    const figure = summariseFigure(throughput, [
      { value: 450, baselineValue: 1000 },
      { value: 350, baselineValue: 1000 },
    ]);

    expect(figure.ratio).toBe(0.35);
    expect(figure.pass).toBe(false);
  });

  it('passes a higher-is-better figure whose ratio reaches the target', () => {
    expect(summariseFigure(throughput, [{ value: 400, baselineValue: 1000 }]).pass).toBe(true);
  });

  it("turns an additive bound into the ratio it amounts to for that run's baseline", () => {
    const within = summariseFigure(additiveLatency, [{ value: 24, baselineValue: 10 }]);
    const beyond = summariseFigure(additiveLatency, [{ value: 26, baselineValue: 10 }]);

    expect(within).toMatchObject({ ratio: 2.4, target: 2.5, pass: true, higher_is_better: false });
    expect(beyond).toMatchObject({ ratio: 2.6, target: 2.5, pass: false });
  });

  it('ranks lower-is-better runs by how far they stay within their own bound', () => {
    const figure = summariseFigure(additiveLatency, [
      { value: 20, baselineValue: 10, detail: 'within by 5 ms' },
      { value: 30, baselineValue: 10, detail: 'beyond by 5 ms' },
      { value: 100, baselineValue: 90, detail: 'within by 5 ms of a slow baseline' },
    ]);

    expect(figure.detail).toBe('within by 5 ms of a slow baseline');
    expect(figure.pass).toBe(true);
  });

  it('refuses a figure without runs or with a baseline of zero', () => {
    expect(() => summariseFigure(throughput, [])).toThrow('no runs');
    expect(() => summariseFigure(throughput, [{ value: 1, baselineValue: 0 }])).toThrow('baseline must be positive');
  });
});
