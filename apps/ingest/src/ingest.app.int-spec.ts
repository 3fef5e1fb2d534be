import { connect, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { Client } from 'pg';
import { signAsanaBody } from '@asana-stream/asana';
import { createTestDatabase, createTestTopics, waitFor, type TestDatabase } from '@asana-stream/testing';
import { addSubscription, CapturingLogger, deliveryBody, SECRET, startIngest, taskEvent } from '../test/ingest-harness';

const TIMEOUT_MS = 2000;

/** A raw connection to ingest; resolves `closed` with the time it was open and what ingest sent. */
function openConnection(port: number): { socket: Socket; closed: Promise<{ openMs: number; received: string }> } {
  const socket = connect(port, '127.0.0.1');
  const opened = Date.now();
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise<{ openMs: number; received: string }>((resolve) =>
    socket.on('close', () => resolve({ openMs: Date.now() - opened, received })),
  );
  return { socket, closed };
}

/** Writes one byte a second to `socket` until it closes: a client too slow to finish. */
function trickle(socket: Socket, byte: string): void {
  const timer = setInterval(() => socket.writable && socket.write(byte), 1000);
  socket.on('close', () => clearInterval(timer));
}

describe("ingest's HTTP server with INGEST_REQUEST_TIMEOUT_MS=2000", () => {
  let db: TestDatabase;
  let sql: Client;
  let app: INestApplication;
  let logger: CapturingLogger;
  let port: number;
  let active: string;

  /** A signed delivery over fetch, as Asana would send it alongside the slow client. */
  const normalDelivery = async () => {
    const body = deliveryBody(taskEvent('1700', 'name'));
    const response = await fetch(`http://127.0.0.1:${port}/webhooks/asana/${active}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hook-signature': signAsanaBody(SECRET, body) },
      body,
    });
    return response.status;
  };
  /** The lines logged since `from` (an index into the logger's lines). */
  const linesSince = (from: number) => logger.lines.slice(from);

  beforeAll(async () => {
    let prefix: string;
    [db, { prefix }] = await Promise.all([createTestDatabase(), createTestTopics()]);
    logger = new CapturingLogger();
    app = await startIngest(
      { DATABASE_URL: db.url, KAFKA_TOPIC_PREFIX: prefix, INGEST_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) },
      logger,
    );
    await app.listen(0, '127.0.0.1');
    port = ((app.getHttpServer() as Server).address() as AddressInfo).port;
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    active = await addSubscription(sql);
  });

  afterAll(async () => {
    await app?.close();
    await sql?.end();
    await db?.drop();
  });

  it('cuts a client sending its body a byte a second at the request timeout, serving a normal delivery meanwhile', async () => {
    const from = logger.lines.length;
    const { socket, closed } = openConnection(port);
    socket.write(
      `POST /webhooks/asana/${active} HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    trickle(socket, ' ');

    await sleep(500);
    expect(await normalDelivery()).toBe(200);
    const { openMs, received } = await closed;

    // Node checks timeouts every connectionsCheckingInterval (500 ms here, not its 30 s default).
    expect(openMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(openMs).toBeLessThan(TIMEOUT_MS + 1000);
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    // Bounded wait for lines that must not come: the body parser reports the abort just after the close.
    await sleep(300);
    expect(linesSince(from)).toEqual([
      { level: 'log', message: expect.objectContaining({ msg: 'request timed out', requestTimeoutMs: TIMEOUT_MS }) },
    ]);
  });

  it('cuts a client sending its headers a byte a second at the headers timeout', async () => {
    const from = logger.lines.length;
    const { socket, closed } = openConnection(port);
    socket.write(`POST /webhooks/asana/${active} HTTP/1.1\r\nHost: ingest\r\nX-Slow: `);
    trickle(socket, 'a');

    const { openMs, received } = await closed;

    expect(openMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(openMs).toBeLessThan(TIMEOUT_MS + 1000);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    await sleep(300);
    expect(linesSince(from)).toEqual([
      { level: 'log', message: expect.objectContaining({ msg: 'request timed out' }) },
    ]);
  });

  it.each([
    ['closes its side', (socket: Socket) => socket.end()],
    ['resets the connection', (socket: Socket) => socket.resetAndDestroy()],
  ])('logs a client that %s halfway through its body as one info line, without a stack', async (_label, hangUp) => {
    const from = logger.lines.length;
    const { socket, closed } = openConnection(port);
    socket.write(`POST /webhooks/asana/${active} HTTP/1.1\r\nHost: ingest\r\nContent-Length: 1000\r\n\r\n{"events":`);
    await sleep(200);
    hangUp(socket);
    await closed;

    await waitFor('the abort to be logged', () => linesSince(from).length > 0);
    // Bounded wait for a second line that must not come.
    await sleep(300);
    expect(linesSince(from)).toEqual([
      { level: 'log', message: expect.objectContaining({ msg: 'request aborted by the client' }) },
    ]);
  });
});
