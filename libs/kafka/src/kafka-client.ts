import { Logger } from '@nestjs/common';
import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';
import { applyKafkajsFixes } from './kafkajs-fixes';

export interface KafkaClientOptions {
  brokers: string;
  clientId: string;
  /** Where kafkajs' own log lines go; Nest's logger (JSON in the apps) unless told otherwise. */
  log?: KafkaLogSink;
  /** Milliseconds to wait for a broker connection (kafkajs' default: 1 s). */
  connectionTimeout?: number;
  /** Retries of a failed request before it fails (kafkajs' default: 5, backing off up to 30 s). */
  retries?: number;
}

/** The levels a kafkajs log line can end up at, in Nest's names. */
export type KafkaLogLevel = 'error' | 'warn' | 'log' | 'debug';
export type KafkaLogSink = (level: KafkaLogLevel, entry: Record<string, unknown> & { msg: string }) => void;

const LEVEL_NAMES: Record<number, KafkaLogLevel> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'log',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs logs every error response a broker sends at ERROR (`Response ListOffsets(...)`:
 * "This server is not the leader for that topic-partition"), then retries the request itself
 * or throws to its caller, who reports the outcome. Those lines are routine (a new topic's
 * leader settling, a rebalance), so they go to debug; everything else keeps its level.
 */
export function kafkajsLogLevel(level: number, message: string): KafkaLogLevel {
  const name = LEVEL_NAMES[level] ?? 'log';
  if (name === 'error' && /^Response \w+\(key: \d+, version: \d+\)$/.test(message)) return 'debug';
  return name;
}

const nestLogSink: KafkaLogSink = (() => {
  const logger = new Logger('kafkajs');
  return (level, entry) => logger[level](entry);
})();

/** Routes kafkajs' own logs through `sink` so they share the app's format and levels. */
function logCreatorFor(sink: KafkaLogSink): logCreator {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = log;
      sink(kafkajsLogLevel(level, message), { msg: message, ...fields });
    };
}

/** A kafkajs client for a comma-separated broker list (with kafkajs mended: `applyKafkajsFixes`). */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  applyKafkajsFixes();
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers.split(',').map((broker) => broker.trim()),
    // kafkajs filters below WARN before the sink sees a line; the sink then applies the app's level.
    logLevel: logLevel.WARN,
    logCreator: logCreatorFor(options.log ?? nestLogSink),
    connectionTimeout: options.connectionTimeout,
    retry: options.retries === undefined ? undefined : { retries: options.retries },
  });
}

/** Consumer group of one app in one installation: `<topic prefix>asana-stream-<app>[-<suffix>]`. */
export function consumerGroupId(topicPrefix: string, app: string, suffix?: string): string {
  return `${topicPrefix}asana-stream-${app}${suffix ? `-${suffix}` : ''}`;
}
