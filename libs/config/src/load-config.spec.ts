import { loadAppConfig } from './app-configs';
import { envHelp, envVariablesOf } from './describe-env';
import { ConfigError, maskSecrets } from './load-config';

/** A valid WEBHOOK_SECRET_KEYS, which ingest and the enricher require. */
const KEYS = { WEBHOOK_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` };

describe('loadAppConfig', () => {
  it('gives defaults that point at this machine', () => {
    const config = loadAppConfig('projector', {});
    expect(config.kafka.KAFKA_BROKERS).toBe('127.0.0.1:9092');
    expect(config.db.DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/asana_stream');
    expect(config.http.PORT).toBe(3000);
    expect(config.kafka.KAFKA_TOPIC_PREFIX).toBe('');
  });

  it('converts numeric variables', () => {
    const config = loadAppConfig('fanout', { PORT: '3003', FANOUT_BATCH_SIZE: '50' });
    expect(config.http.PORT).toBe(3003);
    expect(config.fanout.FANOUT_BATCH_SIZE).toBe(50);
  });

  it('runs 3 relay transactions side by side by default, and at most as many as leave the pool connections', () => {
    expect(loadAppConfig('fanout', {}).fanout.FANOUT_RELAY_CONCURRENCY).toBe(3);
    expect(loadAppConfig('fanout', { FANOUT_RELAY_CONCURRENCY: '8' }).fanout.FANOUT_RELAY_CONCURRENCY).toBe(8);
    for (const bad of ['0', '9', '2.5', 'many']) {
      expect(() => loadAppConfig('fanout', { FANOUT_RELAY_CONCURRENCY: bad })).toThrow(/FANOUT_RELAY_CONCURRENCY/);
    }
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadAppConfig('ingest', { KAFKA_BROKERS: 'localhost', PORT: 'eighty', DATABASE_URL: 'mysql://x' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/KAFKA_BROKERS="localhost"/);
    expect(problems).toMatch(/PORT="eighty"/);
    expect(problems).toMatch(/DATABASE_URL=\(hidden\)/);
  });

  it('requires an Asana token where the app calls Asana, and hides it', () => {
    expect(() => loadAppConfig('enricher', KEYS)).toThrow(/ASANA_TOKEN/);
    const config = loadAppConfig('enricher', { ...KEYS, ASANA_TOKEN: 'pat-123' });
    expect(maskSecrets(config.asana)).toEqual({ ASANA_BASE_URL: 'https://app.asana.com/api/1.0', ASANA_TOKEN: '***' });
  });

  it('rejects a request timeout beyond what Asana waits', () => {
    expect(() => loadAppConfig('ingest', { INGEST_REQUEST_TIMEOUT_MS: '30000' })).toThrow(/INGEST_REQUEST_TIMEOUT_MS/);
  });

  it('names a variable set but empty as an error instead of falling back to its default', () => {
    expect(() => loadAppConfig('projector', { KAFKA_BROKERS: '' })).toThrow(
      'KAFKA_BROKERS="": is set but empty; give it a value or remove it to use its default "127.0.0.1:9092"',
    );
    expect(() => loadAppConfig('enricher', { ASANA_TOKEN: '' })).toThrow(
      'ASANA_TOKEN="": is set but empty; give it a value',
    );
  });

  it('does not show the default of a secret that is set but empty', () => {
    let error: unknown;
    try {
      loadAppConfig('ingest', { ...KEYS, DATABASE_URL: '' });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems).toEqual([
      'DATABASE_URL="": is set but empty; give it a value or remove it to use its default',
    ]);
  });

  it('accepts an empty value where empty means none: an empty default, or an optional variable', () => {
    const config = loadAppConfig('projector', { KAFKA_TOPIC_PREFIX: '', CONSUMER_GROUP_SUFFIX: '' });
    expect(config.kafka.KAFKA_TOPIC_PREFIX).toBe('');
    expect(config.consumer.CONSUMER_GROUP_SUFFIX).toBeUndefined();
  });

  it('ignores empty variables it does not read', () => {
    expect(loadAppConfig('projector', { ASANA_TOKEN: '', SOMETHING_ELSE: '' }).kafka.KAFKA_BROKERS).toBe(
      '127.0.0.1:9092',
    );
  });
});

describe('envVariablesOf', () => {
  it('lists every variable an app reads, with defaults, requirements and secrecy', () => {
    const variables = Object.fromEntries(envVariablesOf('enricher').map((v) => [v.name, v]));
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(['ASANA_BASE_URL', 'ASANA_TOKEN', 'KAFKA_BROKERS', 'PORT', 'CONSUMER_GROUP_SUFFIX']),
    );
    expect(variables.ASANA_TOKEN).toMatchObject({ required: true, sensitive: true });
    expect(variables.CONSUMER_GROUP_SUFFIX).toMatchObject({ required: false, defaultValue: undefined });
    expect(variables.PORT).toMatchObject({ required: false, defaultValue: '3000' });
    expect(variables.EVENTS_POLL_INTERVAL_MS).toMatchObject({ required: false, defaultValue: '30000' });
    expect(variables.DATABASE_URL).toMatchObject({ required: false, sensitive: true });
    // Only what an app reads: the enricher publishes no outbox.
    expect(variables.FANOUT_BATCH_SIZE).toBeUndefined();
  });

  it('puts every variable in the --help text', () => {
    const help = envHelp('ingest', 'receives deliveries');
    for (const { name } of envVariablesOf('ingest')) expect(help).toContain(name);
    expect(help).not.toContain('postgres://postgres@127.0.0.1:5432/asana_stream');
  });

  it('calls a variable required only when the app cannot start without it', () => {
    const help = envHelp('enricher', 'fetches states');
    expect(help).toMatch(/^ {2}ASANA_TOKEN +\(required\)$/m);
    expect(help).toMatch(/^ {2}WEBHOOK_SECRET_KEYS +\(required\)$/m);
    expect(help).toMatch(/^ {2}CONSUMER_GROUP_SUFFIX +\(optional\)$/m);
    expect(help.match(/\(required\)/g)).toHaveLength(2);
  });
});
