import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
}

export interface ReceiverReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer (the simulator's timeout has to end the request). */
  hang?: boolean;
  /** Answer after this long. */
  delayMs?: number;
}

/** Answers handshakes by echoing X-Hook-Secret with 200, and every delivery with 200. */
export const echoHandshake = (request: ReceivedRequest): ReceiverReply => {
  const secret = request.headers['x-hook-secret'];
  return typeof secret === 'string' ? { status: 200, headers: { 'X-Hook-Secret': secret } } : { status: 200 };
};

/**
 * A real HTTP webhook receiver on 127.0.0.1 and a random port, recording each request's raw
 * bytes; `reply` decides each answer and can be swapped mid-test.
 */
export class TestReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** The most requests that were open at once. */
  maxConcurrent = 0;
  private open = 0;
  reply: (request: ReceivedRequest) => ReceiverReply = echoHandshake;
  private server?: Server;

  get url(): string {
    const { port } = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.open += 1;
      this.maxConcurrent = Math.max(this.maxConcurrent, this.open);
      res.on('close', () => (this.open -= 1));
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request = { path: req.url ?? '', headers: req.headers, rawBody: Buffer.concat(chunks) };
        this.requests.push(request);
        const reply = this.reply(request);
        if (reply.hang) return;
        setTimeout(() => res.writeHead(reply.status, reply.headers).end(reply.body), reply.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** Deliveries received on a path (handshakes, which carry X-Hook-Secret, left out). */
  deliveries(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path && r.headers['x-hook-secret'] === undefined);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
