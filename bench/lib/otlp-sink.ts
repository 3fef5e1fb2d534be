import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Where `--traced` runs send their spans: an OTLP/HTTP endpoint on 127.0.0.1 that answers every
 * export 200 at once and keeps only counts (a run exports millions of spans), so the apps pay
 * what a deployment exporting to a collector pays: making, batching, encoding and sending them.
 */
export class OtlpSink {
  /** Trace export requests received, and their bytes. */
  exports = 0;
  bytes = 0;
  private server?: Server;

  /** Listens on a free port; resolves with the endpoint to give as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  async start(): Promise<string> {
    const server = createServer((request, response) => {
      request.on('data', (chunk: Buffer) => (this.bytes += chunk.length));
      request.on('end', () => {
        if (request.url === '/v1/traces') this.exports += 1;
        response.writeHead(200).end();
      });
    });
    this.server = server;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
