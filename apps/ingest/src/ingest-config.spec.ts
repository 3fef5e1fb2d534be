import { loadAppConfig } from '@asana-stream/config';
import { TEST_WEBHOOK_SECRET_KEYS } from '@asana-stream/testing';

const KEYS = { WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS };

/** ingest's limits as its configuration validates them (libs/config IngestEnv). */
describe("ingest's body and Kafka limits", () => {
  it('default to a body limit that fits one message of Kafka’s default max.message.bytes', () => {
    const { ingest } = loadAppConfig('ingest', KEYS);
    expect(ingest).toMatchObject({
      KAFKA_MAX_MESSAGE_BYTES: 1_048_588,
      INGEST_MAX_BODY_BYTES: 983_040,
      INGEST_SUBSCRIPTION_CACHE_MS: 5000,
    });
  });

  it('refuses a body limit that leaves the raw delivery record no room for its headers', () => {
    expect(() => loadAppConfig('ingest', { ...KEYS, INGEST_MAX_BODY_BYTES: '10485760' })).toThrow(
      /INGEST_MAX_BODY_BYTES="10485760": must be at most KAFKA_MAX_MESSAGE_BYTES - 16384 \(1032204\)/,
    );
    expect(() => loadAppConfig('ingest', { ...KEYS, INGEST_MAX_BODY_BYTES: '1032205' })).toThrow(
      /INGEST_MAX_BODY_BYTES/,
    );
    expect(loadAppConfig('ingest', { ...KEYS, INGEST_MAX_BODY_BYTES: '1032204' }).ingest.INGEST_MAX_BODY_BYTES).toBe(
      1_032_204,
    );
  });

  it('follows a broker configured for larger messages', () => {
    const env = { ...KEYS, KAFKA_MAX_MESSAGE_BYTES: String(10 * 1024 * 1024), INGEST_MAX_BODY_BYTES: '10000000' };
    expect(loadAppConfig('ingest', env).ingest.INGEST_MAX_BODY_BYTES).toBe(10_000_000);
  });
});
