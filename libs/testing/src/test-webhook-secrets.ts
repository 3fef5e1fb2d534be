import { WebhookSecretCipher } from '@asana-stream/config';

/**
 * The 32 bytes of the key tests encrypt webhook secrets with: printable, so a test can look for
 * the key in a log in any encoding (`TEST_WEBHOOK_SECRET_KEY_BYTES.toString('base64' | 'hex' | 'utf8')`).
 */
export const TEST_WEBHOOK_SECRET_KEY_BYTES = Buffer.from('asana-stream-test-key-32-bytes!!', 'utf8');

/** WEBHOOK_SECRET_KEYS for tests: one key, id `test`. Apps and cli runs started by libs/testing get it by default. */
export const TEST_WEBHOOK_SECRET_KEYS = `test:${TEST_WEBHOOK_SECRET_KEY_BYTES.toString('base64')}`;

/** The cipher the apps build from TEST_WEBHOOK_SECRET_KEYS, to read or write rows as they do. */
export function testWebhookSecretCipher(): WebhookSecretCipher {
  return WebhookSecretCipher.fromKeyRing(TEST_WEBHOOK_SECRET_KEYS);
}
