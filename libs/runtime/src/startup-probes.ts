import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { applyKafkajsFixes } from '@asana-stream/kafka';
import type { StartupDependency } from './wait-for-dependencies';

/**
 * Postgres at `databaseUrl`, answering `SELECT 1` on a connection of its own that is closed
 * again: the app's pool is opened only once the server answers, so a failed attempt leaves nothing behind.
 */
export function postgresDependency(databaseUrl: string): StartupDependency {
  const url = new URL(databaseUrl);
  return {
    name: 'postgres',
    address: `${url.hostname}:${url.port || '5432'}`,
    variable: 'DATABASE_URL',
    secrets: url.password ? [url.password, decodeURIComponent(url.password)] : [],
    async attempt(timeoutMs) {
      const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: timeoutMs });
      // A connection lost after connect() is also emitted as 'error', which would crash the process;
      // the attempt's own promise already reports it.
      client.on('error', () => undefined);
      await client.connect();
      try {
        await client.query('SELECT 1');
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * The Kafka cluster behind `brokers`, answering a metadata request. The probe's client retries
 * nothing and logs nothing: the wait loop owns retries and says what failed in one line,
 * where kafkajs would log a stack trace per retry.
 */
export function kafkaDependency(brokers: string, clientId: string): StartupDependency {
  return {
    name: 'kafka',
    address: brokers,
    variable: 'KAFKA_BROKERS',
    async attempt(timeoutMs) {
      applyKafkajsFixes();
      const kafka = new Kafka({
        clientId,
        brokers: brokers.split(',').map((broker) => broker.trim()),
        logLevel: logLevel.NOTHING,
        connectionTimeout: timeoutMs,
        requestTimeout: timeoutMs,
        retry: { retries: 0 },
      });
      const admin = kafka.admin({ retry: { retries: 0 } });
      try {
        await admin.connect();
        await admin.describeCluster();
      } finally {
        await admin.disconnect();
      }
    },
  };
}
