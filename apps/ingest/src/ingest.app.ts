import type { NestExpressApplication } from '@nestjs/platform-express';
import { raw } from 'express';
import type { Server } from 'node:http';
import type { IngestConfig } from '@asana-stream/config';

/**
 * What ingest's HTTP server needs beyond its module, shared by main.ts and the tests: the raw
 * body on the webhook route and request timeouts that fit Asana's 10 s.
 */
export function configureIngestApp(app: NestExpressApplication, config: IngestConfig): void {
  // Signatures are computed over the raw bytes: every content type (or none) stays a Buffer.
  app.use('/webhooks', raw({ type: () => true, limit: config.ingest.INGEST_MAX_BODY_BYTES }));
  const server: Server = app.getHttpServer();
  // Asana waits 10 s; Node's default request timeout is 300 s.
  server.requestTimeout = config.ingest.INGEST_REQUEST_TIMEOUT_MS;
  server.headersTimeout = Math.min(config.ingest.INGEST_REQUEST_TIMEOUT_MS, 5000);
}
