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
      const traces = request.url === '/v1/traces';
      request.on('data', (chunk: Buffer) => {
        if (traces) this.bytes += chunk.length;
      });
      request.on('end', () => {
        if (traces) this.exports += 1;
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

/** `OTEL_TRACES_SAMPLER` and its argument from `env` (the bench's), for a traced run to try a sampler. */
export function samplerSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const names = ['OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'] as const;
  return Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
}
