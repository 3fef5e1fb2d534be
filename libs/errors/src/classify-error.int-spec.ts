import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { TEST_SERVER_URL, testKafka } from '@asana-stream/testing';
import { dispositionAfterRetries } from './asana-stream.error';
import { classifyError } from './classify-error';

/** What `work` rejects with; fails the test when it resolves. */
async function rejection(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** A TCP server for one test: `onSocket` decides what a connection gets. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: one the OS just gave a server that is closed again. */
async function closedPort(): Promise<number> {
  const server = await tcpServer(() => undefined);
  await server.close();
  return server.port;
}

describe('classifyError on failures the real libraries produce', () => {
  describe('fetch (undici)', () => {
    it('a refused connection: UNAVAILABLE, ECONNREFUSED', async () => {
      const error = await rejection(async () => fetch(`http://127.0.0.1:${await closedPort()}/`));
      const classified = classifyError(error);
      expect([classified.code, classified.details.networkCode]).toEqual(['UNAVAILABLE', 'ECONNREFUSED']);
      expect(classified.message).toMatch(/^fetch failed: connect ECONNREFUSED/);
    });

    it('a body cut short: UNAVAILABLE, UND_ERR_SOCKET', async () => {
      const server = await tcpServer((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"da'));
      try {
        const response = await fetch(`http://127.0.0.1:${server.port}/`);
        const classified = classifyError(await rejection(() => response.text()));
        expect([classified.code, classified.details.networkCode]).toEqual(['UNAVAILABLE', 'UND_ERR_SOCKET']);
      } finally {
        await server.close();
      }
    });

    it('a server that never answers, under AbortSignal.timeout: TIMEOUT', async () => {
      const server = await tcpServer(() => undefined);
      try {
        const error = await rejection(() =>
          fetch(`http://127.0.0.1:${server.port}/`, { signal: AbortSignal.timeout(100) }),
        );
        expect(classifyError(error).code).toBe('TIMEOUT');
      } finally {
        await server.close();
      }
    });
  });

  describe('Postgres (pg, TypeORM)', () => {
    const databaseUrl = (database: string, port?: number) => {
      const url = new URL(TEST_SERVER_URL);
      url.pathname = `/${database}`;
      if (port !== undefined) url.port = String(port);
      return url.toString();
    };
    let client: Client;

    beforeAll(async () => {
      client = new Client({ connectionString: TEST_SERVER_URL });
      await client.connect();
      await client.query('CREATE TEMP TABLE classify_probe (gid text PRIMARY KEY, state jsonb NOT NULL)');
      await client.query(`INSERT INTO classify_probe VALUES ('1', '{}')`);
    });
    afterAll(async () => {
      await client.end();
    });

    it.each([
      ["SELECT 'secret-value'::bigint", 'DATA_REJECTED', '22P02'],
      ['SELECT 1 / 0', 'DATA_REJECTED', '22012'],
      [`INSERT INTO classify_probe VALUES ('2', NULL)`, 'DATA_REJECTED', '23502'],
      [`INSERT INTO classify_probe VALUES ('1', '{}')`, 'DATABASE_CONFLICT', '23505'],
      ['SELECT * FROM classify_no_such_table', 'INTERNAL', '42P01'],
      ['SELEKT 1', 'INTERNAL', '42601'],
      ['SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)', 'TIMEOUT', '57014'],
    ])('%s: %s (SQLSTATE %s)', async (sql, code, sqlState) => {
      const classified = classifyError(await rejection(() => client.query(sql)));
      expect([classified.code, classified.details.sqlState]).toEqual([code, sqlState]);
      expect(JSON.stringify(classified)).not.toContain('secret');
    });

    it('a database that does not exist: DATABASE_NOT_READY (3D000)', async () => {
      const missing = new Client({
        connectionString: databaseUrl(`classify_missing_${randomBytes(4).toString('hex')}`),
      });
      const classified = classifyError(await rejection(() => missing.connect()));
      expect([classified.code, classified.details.sqlState, classified.disposition]).toEqual([
        'DATABASE_NOT_READY',
        '3D000',
        'halt',
      ]);
    });

    it('no server on the port: UNAVAILABLE, ECONNREFUSED', async () => {
      const nowhere = new Client({ connectionString: databaseUrl('postgres', await closedPort()) });
      const classified = classifyError(await rejection(() => nowhere.connect()));
      expect([classified.code, classified.details.networkCode]).toEqual(['UNAVAILABLE', 'ECONNREFUSED']);
    });

    it("TypeORM's QueryFailedError, by its driverError, with none of its parameters in the log form", async () => {
      const dataSource = new DataSource({ type: 'postgres', url: TEST_SERVER_URL, extra: { max: 1 } });
      await dataSource.initialize();
      try {
        const error = await rejection(() => dataSource.query('SELECT $1::bigint', ['secret-parameter']));
        expect((error as Error).name).toBe('QueryFailedError');
        const classified = classifyError(error);
        expect([classified.code, classified.details.sqlState]).toEqual(['DATA_REJECTED', '22P02']);
        expect(JSON.stringify(classified)).not.toContain('secret');
      } finally {
        await dataSource.destroy();
      }
    });
  });

  describe('kafkajs', () => {
    const kafka = testKafka('classify-error-spec');
    const admin = kafka.admin();
    const topic = `classify-error-${randomBytes(4).toString('hex')}`;
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    });

    beforeAll(async () => {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      await producer.connect();
    });
    afterAll(async () => {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    });

    it('a record larger than the broker accepts: MESSAGE_TOO_LARGE, dead-lettered', async () => {
      const error = await rejection(() =>
        producer.send({ topic, messages: [{ key: 'k', value: Buffer.alloc(2_000_000, 97) }] }),
      );
      const classified = classifyError(error);
      expect([classified.code, classified.disposition]).toEqual(['MESSAGE_TOO_LARGE', 'dead-letter']);
    });

    it('a topic that does not exist: KAFKA_UNAVAILABLE, and a halt, not a dead letter, once retries run out', async () => {
      const error = await rejection(() =>
        producer.send({ topic: `${topic}-missing`, messages: [{ key: 'k', value: 'v' }] }),
      );
      const classified = classifyError(error);
      expect([classified.code, classified.details.kafkaType]).toEqual([
        'KAFKA_UNAVAILABLE',
        'UNKNOWN_TOPIC_OR_PARTITION',
      ]);
      expect(dispositionAfterRetries(classified)).toBe('halt');
    });

    it('no broker on the port: KAFKA_UNAVAILABLE', async () => {
      const nowhere = new Kafka({
        clientId: 'classify-error-spec',
        brokers: [`127.0.0.1:${await closedPort()}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
      });
      const classified = classifyError(await rejection(() => nowhere.producer().connect()));
      expect([classified.code, classified.details.networkCode]).toEqual(['KAFKA_UNAVAILABLE', 'ECONNREFUSED']);
    });
  });
});
