import type { NestExpressApplication } from '@nestjs/platform-express';
import { raw } from 'express';
import type { Server } from 'node:http';
import type { IngestConfig } from '@asana-stream/config';
import { handleClientErrors } from './cut-off-requests';
import { measureDelivery } from './webhooks/ingest-metrics';
import { stampArrival } from './webhooks/request-deadline';

/**
 * How often Node's HTTP server looks for requests past their timeouts. Node checks only then
 * (every 30 s by default), so a slow client was held about 30 s whatever the timeouts said; at
 * 500 ms one is cut within half a second of its timeout. The check walks the open requests only.
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 500;

/**
 * What ingest's HTTP server needs beyond its module, shared by main.ts and the tests: the raw
 * body on the webhook route, bounded, and request timeouts that fit Asana's 10 s.
 */
export function configureIngestApp(app: NestExpressApplication, config: IngestConfig): void {
  const { INGEST_REQUEST_TIMEOUT_MS: requestTimeoutMs, INGEST_MAX_BODY_BYTES } = config.ingest;
  // Asana reads the status only: no ETag (a SHA-1 of every answer) and no X-Powered-By.
  app.set('etag', false);
  app.disable('x-powered-by');
  app.use('/webhooks', stampArrival);
  // Counts each answer by outcome and times it from here (asana_stream_ingest_deliveries_total).
  app.use('/webhooks', measureDelivery);
  // Signatures are computed over the raw bytes: every content type (or none) stays a Buffer. A
  // larger body is answered 413 (the exception filter) without being kept.
  app.use('/webhooks', raw({ type: () => true, limit: INGEST_MAX_BODY_BYTES }));
  const server: Server = app.getHttpServer();
  // Asana waits 10 s; Node's default request timeout is 300 s.
  const headersTimeoutMs = Math.min(requestTimeoutMs, 5000);
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = headersTimeoutMs;
  // A createServer option, but also the property Node reads when the server starts listening
  // (Nest creates the server before this runs and listens after).
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    CONNECTIONS_CHECKING_INTERVAL_MS;
  handleClientErrors(server, { requestTimeoutMs, headersTimeoutMs });
}
