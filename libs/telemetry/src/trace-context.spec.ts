import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { linksTo, MAX_SPAN_LINKS } from './trace-context';

const traceparent = (n: number) => `00-${n.toString(16).padStart(32, '0')}-${'b7ad6b7169203331'}-01`;

describe('linksTo', () => {
  beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
  afterAll(() => propagation.disable());

  it('links each trace given, in order, skipping what carries none or is not a traceparent', () => {
    const links = linksTo([traceparent(1), null, undefined, '', 'not-a-traceparent', traceparent(2)]);
    expect(links.map((link) => link.context.traceId)).toEqual(
      [traceparent(1), traceparent(2)].map((t) => t.slice(3, 35)),
    );
    expect(links.every((link) => link.context.spanId === 'b7ad6b7169203331')).toBe(true);
  });

  it(`stops at MAX_SPAN_LINKS (${MAX_SPAN_LINKS}), the SDK's default link limit, without reading the rest`, () => {
    const read: number[] = [];
    function* traceparents() {
      for (let n = 1; n <= 500; n++) {
        read.push(n);
        yield traceparent(n);
      }
    }
    const links = linksTo(traceparents());
    expect(links).toHaveLength(MAX_SPAN_LINKS);
    expect(links[MAX_SPAN_LINKS - 1].context.traceId).toBe(traceparent(MAX_SPAN_LINKS).slice(3, 35));
    expect(read).toHaveLength(MAX_SPAN_LINKS);
  });

  it('is empty when there is nothing to link', () => {
    expect(linksTo([])).toEqual([]);
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});
