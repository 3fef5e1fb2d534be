import type { IHeaders, KafkaMessage } from 'kafkajs';
import { AsanaStreamError } from '@asana-stream/errors';
import { DeadLetterPublisher, deadLetterRecord } from './dead-letter.publisher';

const message = (headers: IHeaders): KafkaMessage => ({
  key: Buffer.from('1200'),
  value: Buffer.from('{not json'),
  headers,
  offset: '41',
  timestamp: '1795000000000',
  attributes: 0,
});

const failure = {
  attempts: 3,
  firstFailureAt: new Date('2026-11-22T10:00:00.000Z'),
  lastFailureAt: new Date('2026-11-22T10:00:02.500Z'),
};

describe('deadLetterRecord', () => {
  it('keeps key, value bytes and headers, and says why, from where and when in x-dlq-* headers', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const record = deadLetterRecord(
      { topic: 'p.asana.events', partition: 4, message: message({ traceparent: Buffer.from(traceparent) }) },
      new AsanaStreamError('INVALID_MESSAGE', 'asana.events: the message is not acceptable JSON (at position 1)'),
      failure,
    );
    expect(record.key).toEqual(Buffer.from('1200'));
    expect(record.value).toEqual(Buffer.from('{not json'));
    expect(record.headers).toEqual({
      traceparent: Buffer.from(traceparent),
      'x-dlq-code': 'INVALID_MESSAGE',
      'x-dlq-message': 'asana.events: the message is not acceptable JSON (at position 1)',
      'x-dlq-source-topic': 'p.asana.events',
      'x-dlq-source-partition': '4',
      'x-dlq-source-offset': '41',
      'x-dlq-attempts': '3',
      'x-dlq-first-failure-at': '2026-11-22T10:00:00.000Z',
      'x-dlq-last-failure-at': '2026-11-22T10:00:02.500Z',
    });
  });

  it('replaces the x-dlq-* headers of an earlier dead-lettering and keeps where it was re-driven from', () => {
    const record = deadLetterRecord(
      {
        topic: 'p.asana.state',
        partition: 0,
        message: message({
          'x-dlq-code': 'UNKNOWN',
          'x-dlq-attempts': '10',
          'x-redriven-from': 'p.asana.state.dlq/0/7',
        }),
      },
      new AsanaStreamError('DATA_REJECTED', 'value too long for type character varying(255)'),
      failure,
    );
    expect(record.headers).toMatchObject({
      'x-dlq-code': 'DATA_REJECTED',
      'x-dlq-attempts': '3',
      'x-redriven-from': 'p.asana.state.dlq/0/7',
    });
  });

  it('cuts a long reason to one line of at most 200 characters', () => {
    const record = deadLetterRecord(
      { topic: 't', partition: 0, message: message({}) },
      new AsanaStreamError('REJECTED', `Asana refused the request:\n${'x'.repeat(500)}`),
      failure,
    );
    const reason = String(record.headers?.['x-dlq-message']);
    expect(reason.length).toBeLessThanOrEqual(200);
    expect(reason).not.toContain('\n');
  });
});

describe('DeadLetterPublisher', () => {
  it('publishes the record to the dead-letter topic through the publisher, and fails when it fails', async () => {
    const published: unknown[] = [];
    const dead = new DeadLetterPublisher({
      publish: async (topicMessages) => {
        published.push(topicMessages);
      },
    });
    const error = new AsanaStreamError('REJECTED', 'Asana answered 400');
    await dead.publish(
      'p.asana.events.dlq',
      { topic: 'p.asana.events', partition: 1, message: message({}) },
      error,
      failure,
    );
    expect(published).toEqual([
      [{ topic: 'p.asana.events.dlq', messages: [expect.objectContaining({ key: Buffer.from('1200') })] }],
    ]);

    const failing = new DeadLetterPublisher({ publish: () => Promise.reject(new Error('broker down')) });
    await expect(
      failing.publish('t.dlq', { topic: 't', partition: 0, message: message({}) }, error, failure),
    ).rejects.toThrow('broker down');
  });
});
