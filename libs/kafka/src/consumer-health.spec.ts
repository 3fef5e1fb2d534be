import { AsanaStreamError } from '@asana-stream/errors';
import { ConsumerHealth } from './consumer-health';

function health() {
  let now = 1_000_000;
  const errors: unknown[] = [];
  const log = { log: () => undefined, warn: () => undefined, error: (line: unknown) => errors.push(line) };
  const subject = new ConsumerHealth({ contactTimeoutMs: 10_000, haltLogIntervalMs: 60_000, now: () => now }, log);
  return { health: subject, errors, advance: (ms: number) => (now += ms) };
}

describe('ConsumerHealth', () => {
  it('is unready until the consumer runs, and names its status', () => {
    const { health: h } = health();
    expect(h.readinessProblem()).toBe('the Kafka consumer is starting');
    h.contact();
    h.setStatus('running');
    expect(h.readinessProblem()).toBeNull();
    h.setStatus('restarting', 'KAFKA_UNAVAILABLE: Connection error');
    expect(h.readinessProblem()).toBe('the Kafka consumer is restarting (KAFKA_UNAVAILABLE: Connection error)');
  });

  it('is unready once the broker has not answered for longer than the contact timeout', () => {
    const { health: h, advance } = health();
    h.setStatus('running');
    h.contact();
    advance(10_000);
    expect(h.readinessProblem()).toBeNull();
    advance(1_500);
    expect(h.readinessProblem()).toBe('the Kafka broker has not answered the consumer for 12 s');
    h.contact();
    expect(h.readinessProblem()).toBeNull();
  });

  it('is unready while any message is halted, and ready again once the last one resumes', () => {
    const { health: h } = health();
    h.setStatus('running');
    h.contact();
    const [first, second] = [{}, {}];
    h.halt(first, new AsanaStreamError('UNAUTHORIZED', 'Asana answered 401'), { topic: 'asana.events' });
    h.halt(second, new AsanaStreamError('UNAUTHORIZED', 'Asana answered 401'), { topic: 'asana.events' });
    expect(h.readinessProblem()).toBe('the Kafka consumer is halted: UNAUTHORIZED: Asana answered 401');
    expect(h.resume(first)).toBe(false);
    expect(h.readinessProblem()).not.toBeNull();
    expect(h.resume(second)).toBe(true);
    expect(h.readinessProblem()).toBeNull();
    expect(h.resume(second)).toBe(false);
  });

  it('logs a halt at most once a minute, however many messages halt', () => {
    const { health: h, errors, advance } = health();
    const error = new AsanaStreamError('DATABASE_UNAVAILABLE', 'Connection terminated');
    for (let i = 0; i < 5; i++) h.halt({}, error, { partition: i });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ partition: 0, error: { code: 'DATABASE_UNAVAILABLE' } });
    advance(59_000);
    h.halt({}, error, {});
    expect(errors).toHaveLength(1);
    advance(1_000);
    h.halt({}, error, {});
    expect(errors).toHaveLength(2);
  });

  it('reports a fatal problem only for a consumer kafkajs will not restart', () => {
    const { health: h } = health();
    h.setStatus('restarting');
    expect(h.fatalProblem()).toBeNull();
    h.setStatus('crashed', 'INTERNAL: the broker refused the request');
    expect(h.fatalProblem()).toBe(
      'the Kafka consumer crashed and will not restart (INTERNAL: the broker refused the request)',
    );
  });
});
