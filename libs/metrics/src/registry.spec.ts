import { parseExposition, samplesOf, sumOf } from './exposition';
import { counter, gauge, histogram, metricsExposition, metricsRegistry, startProcessMetrics } from './registry';

describe('the process registry', () => {
  it('gives back the metric already registered under a name, and refuses another type for it', () => {
    const first = counter({ name: 'asana_stream_spec_things_total', help: 'Things.', labelNames: ['kind'] });
    const again = counter({ name: 'asana_stream_spec_things_total', help: 'Things.', labelNames: ['kind'] });

    expect(again).toBe(first);
    expect(() => gauge({ name: 'asana_stream_spec_things_total', help: 'Things.' })).toThrow(/another type/);
  });

  it('refuses a name without the asana_stream_ prefix', () => {
    expect(() => histogram({ name: 'spec_seconds', help: 'No prefix.' })).toThrow(/must start with asana_stream_/);
  });

  it('serves every metric as parsable text, each labelled with the app, with the process metrics', async () => {
    startProcessMetrics('spec-app');
    startProcessMetrics('spec-app'); // a second start neither fails nor registers anything twice
    counter({ name: 'asana_stream_spec_served_total', help: 'Served.', labelNames: ['kind'] }).inc({ kind: 'a' }, 2);

    const { contentType, text } = await metricsExposition();
    const parsed = parseExposition(text);

    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sumOf(parsed, 'asana_stream_spec_served_total', { kind: 'a', app: 'spec-app' })).toBe(2);
    expect(samplesOf(parsed, 'process_cpu_user_seconds_total', { app: 'spec-app' })).toHaveLength(1);
    expect(samplesOf(parsed, 'nodejs_eventloop_lag_seconds', { app: 'spec-app' })).toHaveLength(1);
    expect(parsed.samples.every((sample) => sample.labels.app === 'spec-app')).toBe(true);
    expect(metricsRegistry.getSingleMetric('asana_stream_spec_served_total')).toBeDefined();
  });
});
