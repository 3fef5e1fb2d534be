import { Logger } from '@nestjs/common';
import { Kafka, logLevel, type LogEntry, type logCreator } from 'kafkajs';

export interface KafkaClientOptions {
  brokers: string;
  clientId: string;
}

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'log' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'log',
  [logLevel.DEBUG]: 'debug',
};

/** Routes kafkajs' own logs through Nest's logger so they share the JSON format and level. */
const nestLogCreator: logCreator = () => {
  const logger = new Logger('kafkajs');
  return ({ level, log }: LogEntry) => {
    const { message, ...fields } = log;
    const method = LEVEL_NAMES[level] ?? 'log';
    logger[method]({ msg: message, ...fields });
  };
};

let negativeTimeoutWarningHidden = false;

/**
 * kafkajs 2.2.4 schedules a timer with a negative delay on every connection, which Node 24
 * reports as a TimeoutNegativeWarning (kafkajs#1751; Node clamps it to 1 ms, so it is harmless).
 * Only that warning is dropped; every other warning still reaches Node's own handlers.
 */
export function hideKafkajsNegativeTimeoutWarning(): void {
  if (negativeTimeoutWarningHidden) return;
  negativeTimeoutWarningHidden = true;
  const handlers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    for (const handler of handlers) handler(warning);
  });
}

/** A kafkajs client for a comma-separated broker list. */
export function createKafkaClient(options: KafkaClientOptions): Kafka {
  hideKafkajsNegativeTimeoutWarning();
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers.split(',').map((broker) => broker.trim()),
    logLevel: logLevel.WARN,
    logCreator: nestLogCreator,
  });
}

/** Consumer group of one app in one installation: `<topic prefix>asana-stream-<app>[-<suffix>]`. */
export function consumerGroupId(topicPrefix: string, app: string, suffix?: string): string {
  return `${topicPrefix}asana-stream-${app}${suffix ? `-${suffix}` : ''}`;
}
