import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { INestApplication, LoggerService } from '@nestjs/common';
import { Client } from 'pg';
import request from 'supertest';
import { signAsanaBody, type AsanaEvent } from '@asana-stream/asana';
import { createPipelineApp } from '@asana-stream/runtime';
import { asanaTaskEvent, TEST_WEBHOOK_SECRET_KEYS, testWebhookSecretCipher } from '@asana-stream/testing';
import { INGEST_APP } from '../src/ingest.module';

/** The secret every test subscription's deliveries are signed with. */
export const SECRET = 'a-webhook-secret-of-32-characters';

/** A task event of `gid` changing `field`. */
export function taskEvent(gid: string, field: string): AsanaEvent {
  return asanaTaskEvent({
    resource: { gid, resource_type: 'task', resource_subtype: 'default_task' },
    change: { field, action: 'changed' },
  });
}

/**
 * A delivery as Asana might format it: odd spacing and non-ASCII text, so a body that was
 * parsed and serialised again would not match the bytes that were signed.
 */
export const deliveryBody = (...events: AsanaEvent[]): string =>
  `{ "events" :\n  ${JSON.stringify(events, null, 1)} , "note": "résumé ✓" }\n`;

/**
 * The real ingest app, in-process, built by the same bootstrap as main.ts (short of listening),
 * with TEST_WEBHOOK_SECRET_KEYS unless `env` sets WEBHOOK_SECRET_KEYS.
 */
export async function startIngest(
  env: Record<string, string>,
  logger: LoggerService | false = false,
): Promise<INestApplication> {
  const { app } = await createPipelineApp(
    INGEST_APP,
    { WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS, ...env },
    { logger },
  );
  return app.init();
}

/** POSTs `body` as raw bytes to a subscription, signed with SECRET unless told otherwise; null sends no such header. */
export function deliver(
  to: INestApplication | Server,
  subscriptionId: string,
  body: string | Buffer,
  {
    signature = signAsanaBody(SECRET, body),
    contentType = 'application/json',
  }: { signature?: string | null; contentType?: string | null } = {},
) {
  const server = 'getHttpServer' in to ? (to.getHttpServer() as Server) : to;
  const post = request(server)
    .post(`/webhooks/asana/${subscriptionId}`)
    .serialize((bytes: Buffer) => bytes as unknown as string);
  if (contentType !== null) void post.set('Content-Type', contentType);
  if (signature !== null) void post.set('X-Hook-Signature', signature);
  return post.send(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
}

/**
 * Inserts a subscription row (a new id, `active`, with SECRET, unless told otherwise) and returns
 * its id. The secret is stored as ingest stores it, encrypted with TEST_WEBHOOK_SECRET_KEYS, or
 * as rows made before encryption hold it with `storedAs: 'plaintext'`.
 */
export async function addSubscription(
  sql: Client,
  {
    id = randomUUID(),
    status = 'active',
    secret = SECRET,
    storedAs = 'encrypted',
  }: {
    id?: string;
    status?: 'pending_handshake' | 'active' | 'deleted';
    secret?: string | null;
    storedAs?: 'encrypted' | 'plaintext';
  } = {},
): Promise<string> {
  const stored = secret !== null && storedAs === 'encrypted' ? testWebhookSecretCipher().encrypt(id, secret) : secret;
  await sql.query(
    /* sql */ `INSERT INTO subscriptions (id, resource_gid, target_url, secret, status) VALUES ($1, $2, $3, $4, $5)`,
    [id, '1100', `http://ingest.test/webhooks/asana/${id}`, stored, status],
  );
  return id;
}

/**
 * A TCP proxy on a free port in front of `target` (Postgres, for a test): `close()` refuses new
 * connections and cuts the open ones, as an outage would, for this test's clients only;
 * `open()` listens again on the same port.
 */
export class TcpProxy {
  private server?: ReturnType<typeof createServer>;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<this> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** One line an app logged: its level and the object it logged. */
export interface LoggedLine {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  message: unknown;
  stack?: unknown;
}

/** A Nest logger that keeps what the app logs, for tests about log lines. */
export class CapturingLogger implements LoggerService {
  readonly lines: LoggedLine[] = [];

  log(message: unknown): void {
    this.lines.push({ level: 'log', message });
  }
  error(message: unknown, stack?: unknown): void {
    this.lines.push({ level: 'error', message, stack });
  }
  warn(message: unknown): void {
    this.lines.push({ level: 'warn', message });
  }
  debug(message: unknown): void {
    this.lines.push({ level: 'debug', message });
  }
  verbose(message: unknown): void {
    this.lines.push({ level: 'verbose', message });
  }
  fatal(message: unknown): void {
    this.lines.push({ level: 'fatal', message });
  }

  /** Lines whose `msg` field matches. */
  withMsg(pattern: RegExp): LoggedLine[] {
    return this.lines.filter((line) => {
      const msg = (line.message as { msg?: unknown } | null)?.msg;
      return typeof msg === 'string' && pattern.test(msg);
    });
  }
}
