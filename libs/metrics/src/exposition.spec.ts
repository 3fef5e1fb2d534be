import { parseExposition, samplesOf, sumOf } from './exposition';

describe('parseExposition', () => {
  const text = [
    '# HELP asana_stream_things_total Things done.',
    '# TYPE asana_stream_things_total counter',
    'asana_stream_things_total{topic="a.b",outcome="done",app="x"} 3',
    'asana_stream_things_total{topic="a.b",outcome="failed",app="x"} 1',
    '# HELP asana_stream_wait_seconds Waits.',
    '# TYPE asana_stream_wait_seconds histogram',
    'asana_stream_wait_seconds_bucket{le="0.1"} 2',
    'asana_stream_wait_seconds_bucket{le="+Inf"} 3',
    'asana_stream_wait_seconds_sum 0.35',
    'asana_stream_wait_seconds_count 3',
    '# TYPE asana_stream_odd gauge',
    'asana_stream_odd{text="a \\"quoted\\" \\\\ back\\nslash",} NaN',
    'asana_stream_odd{text="neg"} -1.5e-3 1700000000000',
    'asana_stream_odd{text="nan"} Nan',
    'asana_stream_odd{text="inf"} -Inf',
    '',
  ].join('\n');

  it('reads families, labels (escapes included), values and the suffixes of a histogram', () => {
    const parsed = parseExposition(text);

    expect(parsed.types.get('asana_stream_wait_seconds')).toBe('histogram');
    expect(parsed.help.get('asana_stream_things_total')).toBe('Things done.');
    expect(parsed.samples).toHaveLength(10);
    expect(samplesOf(parsed, 'asana_stream_odd', { text: 'nan' })[0].value).toBeNaN();
    expect(samplesOf(parsed, 'asana_stream_odd', { text: 'inf' })[0].value).toBe(-Infinity);
    expect(samplesOf(parsed, 'asana_stream_odd', { text: 'a "quoted" \\ back\nslash' })).toHaveLength(1);
    expect(samplesOf(parsed, 'asana_stream_odd', { text: 'neg' })[0].value).toBe(-0.0015);
    expect(samplesOf(parsed, 'asana_stream_wait_seconds_bucket', { le: '+Inf' })[0].value).toBe(3);
    expect(sumOf(parsed, 'asana_stream_things_total')).toBe(4);
    expect(sumOf(parsed, 'asana_stream_things_total', { outcome: 'done' })).toBe(3);
    expect(sumOf(parsed, 'asana_stream_things_total', { outcome: 'none' })).toBe(0);
  });

  it.each([
    ['a sample without # TYPE', 'asana_stream_x 1'],
    ['a value that is no number', '# TYPE asana_stream_x gauge\nasana_stream_x one'],
    ['unquoted label values', '# TYPE asana_stream_x gauge\nasana_stream_x{a=b} 1'],
    ['a label twice', '# TYPE asana_stream_x gauge\nasana_stream_x{a="1",a="2"} 1'],
    ['an unknown type', '# TYPE asana_stream_x meter'],
    ['a family declared twice', '# TYPE asana_stream_x gauge\n# TYPE asana_stream_x gauge'],
    ['a bucket without le', '# TYPE asana_stream_h histogram\nasana_stream_h_bucket 1'],
    ['a suffix its type does not have', '# TYPE asana_stream_g gauge\nasana_stream_g_bucket{le="1"} 1'],
    ['a bad name', '# TYPE asana_stream_x gauge\n1asana_stream_x 1'],
  ])('refuses %s', (_what, bad) => {
    expect(() => parseExposition(bad)).toThrow(/^line \d+: /);
  });
});
