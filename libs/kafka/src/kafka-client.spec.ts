import { logLevel } from 'kafkajs';
import { createKafkaClient, kafkajsLogLevel, type KafkaLogLevel } from './kafka-client';

describe('kafkajsLogLevel', () => {
  it('sends an error response that kafkajs retries or throws to its caller to debug', () => {
    expect(kafkajsLogLevel(logLevel.ERROR, 'Response ListOffsets(key: 2, version: 3)')).toBe('debug');
    expect(kafkajsLogLevel(logLevel.ERROR, 'Response Metadata(key: 3, version: 6)')).toBe('debug');
  });

  it('keeps every other line at its own level', () => {
    expect(kafkajsLogLevel(logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded')).toBe('error');
    expect(kafkajsLogLevel(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:1')).toBe('error');
    expect(kafkajsLogLevel(logLevel.WARN, 'Response ListOffsets(key: 2, version: 3)')).toBe('warn');
    expect(kafkajsLogLevel(logLevel.INFO, 'Starting')).toBe('log');
    expect(kafkajsLogLevel(logLevel.DEBUG, 'Request Fetch')).toBe('debug');
  });
});

describe('createKafkaClient', () => {
  it("routes kafkajs' log lines to the given sink with their fields, without kafkajs' own timestamp", () => {
    const lines: [KafkaLogLevel, Record<string, unknown>][] = [];
    const kafka = createKafkaClient({
      brokers: '127.0.0.1:1',
      clientId: 'log-spec',
      log: (level, entry) => lines.push([level, entry]),
    });
    kafka.logger().error('Response ListOffsets(key: 2, version: 3)', { error: 'not the leader', broker: 'b:1' });
    kafka.logger().warn('something to know', { topic: 't' });
    expect(lines).toEqual([
      ['debug', { msg: 'Response ListOffsets(key: 2, version: 3)', error: 'not the leader', broker: 'b:1' }],
      ['warn', { msg: 'something to know', topic: 't' }],
    ]);
  });
});
