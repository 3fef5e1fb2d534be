import type { OnModuleDestroy } from '@nestjs/common';
import { request as httpRequest, STATUS_CODES } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface OutgoingPost {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
}

export interface ReceiverAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The start of the response body, for `last_failure_content`. */
  body: string;
}

/**
 * How the simulator reaches a webhook target: the handshake and every delivery go through this.
 * It is the seam for fault injection (drop, duplicate, reorder, delay): a decorator implementing
 * it can answer without sending, send twice, hold a delivery back or wait before sending, and the
 * delivery queue above it stays as it is.
 */
export interface WebhookTransport {
  /** Resolves with the receiver's answer; rejects when none came (refused, reset, timed out). */
  post(request: OutgoingPost): Promise<ReceiverAnswer>;
}

export const WEBHOOK_TRANSPORT = Symbol('WEBHOOK_TRANSPORT');

const KEPT_BODY_CHARS = 1024;

/** Plain Node http(s): the exact body bytes go out with only the headers given (plus Content-Length and Host), in Asana's casing. */
export class HttpWebhookTransport implements WebhookTransport, OnModuleDestroy {
  private readonly inFlight = new Set<() => void>();

  post({ url, headers, body, timeoutMs }: OutgoingPost): Promise<ReceiverAnswer> {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(target, { method: 'POST', headers: { ...headers, 'Content-Length': String(body.length) } });
      const abort = (reason: string) => req.destroy(new Error(reason));
      const cancel = () => abort('the simulator is shutting down');
      const timer = setTimeout(() => abort(`no answer within ${timeoutMs} ms`), timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.inFlight.delete(cancel);
      };
      this.inFlight.add(cancel);
      req.on('error', (error) => {
        settle();
        reject(error);
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (chunk: Buffer) => {
          if (kept < KEPT_BODY_CHARS) chunks.push(chunk);
          kept += chunk.length;
        });
        res.on('error', (error) => {
          settle();
          reject(error);
        });
        res.on('end', () => {
          settle();
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8').slice(0, KEPT_BODY_CHARS);
          resolve({ status, headers: res.headers, body: text || `${status} ${STATUS_CODES[status] ?? ''}`.trim() });
        });
      });
      req.end(body);
    });
  }

  /** Ends every request still open, so shutdown does not wait up to the receiver timeout. */
  onModuleDestroy(): void {
    for (const cancel of [...this.inFlight]) cancel();
  }
}
