import { GENERATED_END, GENERATED_START, renderResults, replaceGenerated } from '../../bench/lib/report';
import type { BenchResults } from '../../bench/lib/results';
import { summariseFigure } from '../../bench/lib/stats';

const results: BenchResults = {
  benchmark: 'consumer',
  command: 'npm run bench -- consumer',
  date: '2026-11-30T21:00:00.000Z',
  commit: 'abc123',
  machine: '2 cores',
  options: { runs: 1 },
  figures: [
    summariseFigure(
      {
        name: 'drain_rate_vs_bare_each_batch',
        unit: 'messages/s',
        baseline: 'bare eachBatch',
        higherIsBetter: true,
        target: { ratio: 0.7 },
        targetRule: '≥ 70 % of the bare eachBatch drain',
      },
      [{ value: 800, baselineValue: 1000, detail: 'backlog of 100000 messages' }],
    ),
  ],
};

describe('docs/benchmarks.md', () => {
  it('shows each benchmark with where, when and how it ran, and a row per figure', () => {
    const generated = renderResults([results]);

    expect(generated.startsWith(GENERATED_START)).toBe(true);
    expect(generated.endsWith(GENERATED_END)).toBe(true);
    expect(generated).toContain('### consumer');
    expect(generated).toContain('- command: `npm run bench -- consumer`');
    expect(generated).toContain('- commit: abc123');
    expect(generated).toContain(
      '| drain_rate_vs_bare_each_batch | 800 messages/s | 1,000 messages/s: bare eachBatch | 0.8 | ≥ 0.7 (≥ 70 % of the bare eachBatch drain) | 0.8..0.8 (1 run) | pass |',
    );
    expect(generated).toContain('- `drain_rate_vs_bare_each_batch`: backlog of 100000 messages');
  });

  it('keeps the hand-written text around the generated part', () => {
    const document = `# Benchmarks\n\nHow to read this.\n\n${GENERATED_START}\nold figures\n${GENERATED_END}\n\nA footnote.\n`;

    const updated = replaceGenerated(document, renderResults([results]));

    expect(updated).toMatch(/^# Benchmarks\n\nHow to read this\.\n\n<!-- bench:generated:start/);
    expect(updated).not.toContain('old figures');
    expect(updated).toContain('### consumer');
    expect(updated.endsWith(`${GENERATED_END}\n\nA footnote.\n`)).toBe(true);
  });

  it('appends the generated part to a document without the markers', () => {
    const updated = replaceGenerated('# Benchmarks\n', renderResults([]));

    expect(updated).toBe(`# Benchmarks\n\n${renderResults([])}\n`);
    expect(updated).toContain('No results yet');
  });
});
