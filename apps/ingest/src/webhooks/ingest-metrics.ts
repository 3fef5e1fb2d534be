import type { NextFunction, Request, Response } from 'express';
import type { Gauge } from 'prom-client';
import {
  codeLabel,
  COUNT_BUCKETS,
  counter,
  DURATION_BUCKETS_SECONDS,
  gauge,
  histogram,
  LabelChildren,
  safeCollect,
  secondsSince,
  statusClass,
} from '@asana-stream/metrics';

/*
 * Ingest's metrics. Labels are outcomes (a closed list: `accepted`, `handshake`, an error code
 * in lower case, `http_<status>`, `aborted`), status classes, and, on one gauge, the id of a
 * subscription whose delivery was signed with its secret: never a gid, a body, a header or a
 * path a client chose.
 */

export const deliveries = counter({
  name: 'asana_stream_ingest_deliveries_total',
  help: 'Requests to /webhooks answered, by outcome (accepted, handshake, the error code answered in lower case such as bad_signature, unknown_subscription, message_too_large, malformed_delivery, kafka_unavailable, database_unavailable; http_<status> for a request Nest refused; aborted when the client went away) and HTTP status class.',
  labelNames: ['outcome', 'status_class'] as const,
});

export const deliveryDuration = histogram({
  name: 'asana_stream_ingest_delivery_duration_seconds',
  help: 'From a request to /webhooks arriving (its headers read) until its answer was written, by HTTP status class.',
  labelNames: ['status_class'] as const,
  buckets: DURATION_BUCKETS_SECONDS,
});

export const deliveryEvents = histogram({
  name: 'asana_stream_ingest_delivery_events',
  help: 'Events in each accepted delivery (0: a heartbeat).',
  buckets: COUNT_BUCKETS,
});

export const heartbeats = counter({
  name: 'asana_stream_ingest_heartbeats_total',
  help: 'Accepted deliveries without events: the heartbeats Asana sends every 8 hours per webhook.',
});

/** Subscriptions whose last accepted delivery is remembered, at most (they are few). */
const MAX_SUBSCRIPTIONS = 1000;
/** When each subscription's last accepted delivery was answered (epoch ms), by subscription id. */
const lastDeliveryAt = new Map<string, number>();

export const lastDeliveryAge = gauge({
  name: 'asana_stream_ingest_last_delivery_age_seconds',
  help: 'Seconds since this replica last accepted a signed delivery (events or a heartbeat) for a subscription; take the min over replicas. Absent until the first one since the process started.',
  labelNames: ['subscription_id'] as const,
  collect: safeCollect(function (this: Gauge<'subscription_id'>) {
    const now = Date.now();
    for (const [subscriptionId, at] of lastDeliveryAt) {
      this.set({ subscription_id: subscriptionId }, Math.max(0, now - at) / 1000);
    }
  }),
});

/** Label children of each (outcome, status class) answered, by outcome then class: a handful. */
const answered = new LabelChildren(
  (outcome: string) =>
    new LabelChildren(
      (status: string) => ({ count: deliveries.labels(outcome, status), duration: deliveryDuration.labels(status) }),
      10,
    ),
  200,
);

const OUTCOME = 'ingestOutcome';
const STARTED_AT = 'ingestStartedAt';

/** Says what the answer to this request is (`accepted`, an error code, ...), for the deliveries counter. */
export function setOutcome(response: Response, outcome: string): void {
  // A response that is not express's (a test's stand-in) has no locals: nothing to count then.
  const locals = (response as Partial<Response>).locals;
  if (locals !== undefined) locals[OUTCOME] = outcome;
}

/** The outcome of an error code: `BAD_SIGNATURE` → `bad_signature`. */
export const outcomeOfCode = codeLabel;

/**
 * Middleware on `/webhooks`: once the request is answered (or its client went away), counts it
 * by outcome and status class and observes its duration from here, where it arrived.
 */
export function measureDelivery(_request: Request, response: Response, next: NextFunction): void {
  response.locals[STARTED_AT] = performance.now();
  // `on`, not `once` (no wrapper per request); recordAnswer counts a response once.
  response.on('close', recordAnswer);
  next();
}

function recordAnswer(this: Response): void {
  try {
    const startedAt: unknown = this.locals[STARTED_AT];
    if (typeof startedAt !== 'number') return;
    this.locals[STARTED_AT] = undefined;
    const status = statusClass(this.statusCode);
    const set: unknown = this.locals[OUTCOME];
    const outcome = !this.writableFinished ? 'aborted' : typeof set === 'string' ? set : `http_${this.statusCode}`;
    const children = answered.get(outcome).get(status);
    children.count.inc();
    children.duration.observe(secondsSince(startedAt));
  } catch {
    // A metric never fails a request.
  }
}

/**
 * An accepted delivery of a subscription (signed with its secret, so the id is one that exists):
 * its events, a heartbeat when it has none, and the time for its age gauge.
 */
export function recordAccepted(subscriptionId: string, eventCount: number): void {
  deliveryEvents.observe(eventCount);
  if (eventCount === 0) heartbeats.inc();
  const id = subscriptionId.toLowerCase();
  if (lastDeliveryAt.has(id) || lastDeliveryAt.size < MAX_SUBSCRIPTIONS) lastDeliveryAt.set(id, Date.now());
}
