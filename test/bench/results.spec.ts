import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAllResults, resultsProblems, writeResults, type BenchResults } from '../../bench/lib/results';
import { summariseFigure } from '../../bench/lib/stats';

function benchResults(overrides: Partial<BenchResults> = {}): BenchResults {
  return {
    benchmark: 'ingest',
    command: 'npm run bench -- ingest',
    date: '2026-11-30T21:00:00.000Z',
    commit: 'fd91af69876dedf9440891c391aba6b4094a35e8',
    machine: '2 cores, 23.5 GiB memory, Node v24.11.0, Kafka 4.1.2',
    options: { runs: 3 },
    figures: [
      summariseFigure(
        {
          name: 'max_rate_vs_noop',
          unit: 'deliveries/s',
          baseline: 'no-op route',
          higherIsBetter: true,
          target: { ratio: 0.4 },
          targetRule: '≥ 40 % of the no-op route',
        },
        [
          { value: 1234.567, baselineValue: 4321.987 },
          { value: 1300, baselineValue: 4000 },
          { value: 1200, baselineValue: 4400 },
        ],
      ),
    ],
    ...overrides,
  };
}

describe('results files', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'bench-results-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('match the schema when built from summarised figures', () => {
    expect(resultsProblems(benchResults())).toEqual([]);
  });

  it('are rejected without a required field, with a non-ISO date, or with a figure missing its target', () => {
    const { commit: _commit, ...withoutCommit } = benchResults();
    const [figure] = benchResults().figures;
    const { target: _target, ...withoutTarget } = figure;

    expect(resultsProblems(withoutCommit)).toEqual([expect.stringContaining("must have required property 'commit'")]);
    expect(resultsProblems(benchResults({ date: 'yesterday' }))).toEqual([
      expect.stringContaining('/date must match format "date-time"'),
    ]);
    expect(resultsProblems({ ...benchResults(), figures: [withoutTarget] })).toEqual([
      expect.stringContaining("must have required property 'target'"),
    ]);
  });

  it('are rejected when a ratio is not value / baseline_value', () => {
    const results = benchResults();
    results.figures[0].ratio = 0.9;

    expect(resultsProblems(results)).toEqual([expect.stringContaining('is not value / baseline_value')]);
  });

  it('are written as bench/results/<benchmark>.json and read back', () => {
    const path = writeResults(benchResults(), dir);

    expect(path).toBe(join(dir, 'ingest.json'));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(benchResults());
    expect(readAllResults(dir)).toEqual({ results: [benchResults()], invalid: [] });
  });

  it('are never written when invalid', () => {
    expect(() => writeResults(benchResults({ date: 'yesterday' }), dir)).toThrow('do not match the schema');
    expect(readAllResults(dir).results).toEqual([]);
  });

  it('that are invalid on disk are reported, not shown', () => {
    writeFileSync(join(dir, 'broken.json'), '{"benchmark": "broken"}');

    const { results, invalid } = readAllResults(dir);

    expect(results).toEqual([]);
    expect(invalid).toEqual([expect.stringMatching(/^broken\.json: .*required property/)]);
  });
});
