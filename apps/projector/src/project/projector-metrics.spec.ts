import { metricsExposition, parseExposition, sumOf } from '@asana-stream/metrics';
import { countApplied } from './projector-metrics';

describe('countApplied', () => {
  it("adds a committed batch's outcomes, rejections and outbox rows", async () => {
    countApplied(['applied', 'applied', 'applied-silently', 'duplicate', 'stale', 'applied'], 2, 3);
    countApplied([], 0, 0);
    const exposition = parseExposition((await metricsExposition()).text);
    const outcome = (name: string) => sumOf(exposition, 'asana_stream_projector_messages_total', { outcome: name });

    expect(['applied', 'applied-silently', 'duplicate', 'stale', 'rejected', 'apply'].map(outcome)).toEqual([
      3, 1, 1, 1, 2, 0,
    ]);
    expect(sumOf(exposition, 'asana_stream_projector_outbox_rows_total')).toBe(3);
  });
});
