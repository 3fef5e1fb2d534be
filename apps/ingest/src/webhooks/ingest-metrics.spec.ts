import { EventEmitter } from 'node:events';
import type { Request, Response } from 'express';
import { metricsExposition, parseExposition, sumOf } from '@asana-stream/metrics';
import { measureDelivery, recordAccepted, setOutcome } from './ingest-metrics';

/** An express response as far as the metrics read it: its status, whether it was written, its locals. */
function fakeResponse(statusCode: number, writableFinished: boolean) {
  return Object.assign(new EventEmitter(), { statusCode, writableFinished, locals: {} }) as unknown as Response &
    EventEmitter;
}

async function answered(outcome: string, statusClass: string): Promise<number> {
  return sumOf(parseExposition((await metricsExposition()).text), 'asana_stream_ingest_deliveries_total', {
    outcome,
    status_class: statusClass,
  });
}

/** Runs a request through the middleware, lets `handle` answer it, then closes it. */
function request(response: Response & EventEmitter, handle: () => void = () => undefined): void {
  let nextCalled = false;
  measureDelivery({} as Request, response, () => (nextCalled = true));
  expect(nextCalled).toBe(true);
  handle();
  response.emit('close');
}

describe("ingest's delivery metrics", () => {
  it('counts an answer under the outcome set for it, once, when the response closes', async () => {
    const response = fakeResponse(401, true);
    request(response, () => setOutcome(response, 'bad_signature'));
    response.emit('close');

    expect(await answered('bad_signature', '4xx')).toBe(1);
  });

  it('counts a request whose client went away as aborted, whatever was set', async () => {
    const response = fakeResponse(200, false);
    request(response, () => setOutcome(response, 'accepted'));

    expect(await answered('aborted', '2xx')).toBe(1);
    expect(await answered('accepted', '2xx')).toBe(0);
  });

  it('counts an answer nothing named by its status', async () => {
    request(fakeResponse(404, true));

    expect(await answered('http_404', '4xx')).toBe(1);
  });

  it('ignores a response without locals instead of failing the request', () => {
    expect(() => setOutcome({} as Response, 'accepted')).not.toThrow();
  });

  it('keeps a heartbeat apart from a delivery with events, and the last delivery per subscription', async () => {
    recordAccepted('6F1D5C1E-0000-4000-8000-000000000001', 0);
    recordAccepted('6f1d5c1e-0000-4000-8000-000000000001', 3);
    const exposition = parseExposition((await metricsExposition()).text);

    expect(sumOf(exposition, 'asana_stream_ingest_heartbeats_total')).toBe(1);
    expect(sumOf(exposition, 'asana_stream_ingest_delivery_events_sum')).toBe(3);
    // One series per subscription, however its id was cased in the URL.
    expect(
      exposition.samples
        .filter((sample) => sample.name === 'asana_stream_ingest_last_delivery_age_seconds')
        .map((sample) => sample.labels.subscription_id),
    ).toEqual(['6f1d5c1e-0000-4000-8000-000000000001']);
  });
});
