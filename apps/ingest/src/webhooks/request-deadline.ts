import type { NextFunction, Request, Response } from 'express';

/** Time kept to write the answer before INGEST_REQUEST_TIMEOUT_MS runs out. */
const ANSWER_MARGIN_MS = 500;

/**
 * Middleware stamping when a webhook request's headers arrived: its budget counts from there, so
 * a slow body leaves less time for Postgres and Kafka rather than making the answer late.
 */
export function stampArrival(_request: Request, response: Response, next: NextFunction): void {
  response.locals.arrivedAtMs = Date.now();
  next();
}

/** When the request must be answered by (epoch ms): its arrival plus the request timeout, less a margin. */
export function requestDeadline(response: Response, requestTimeoutMs: number): number {
  const arrived: unknown = response.locals.arrivedAtMs;
  return (typeof arrived === 'number' ? arrived : Date.now()) + requestTimeoutMs - ANSWER_MARGIN_MS;
}
