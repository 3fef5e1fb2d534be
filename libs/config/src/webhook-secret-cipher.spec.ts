import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { loadAppConfig } from './app-configs';
import { envVariablesOf } from './describe-env';
import { ConfigError } from './load-config';
import {
  generateWebhookSecretKey,
  parseWebhookSecretKeys,
  storedSecretForm,
  WebhookSecretCipher,
  WebhookSecretError,
  WebhookSecretKeysError,
} from './webhook-secret-cipher';

const SUBSCRIPTION = '0b8f3c9e-5d7a-4e21-9a1f-2c3d4e5f6a7b';
const OTHER_SUBSCRIPTION = '7a6f5e4d-3c2b-4a19-8e7d-6c5b4a392817';
const SECRET = 'a-webhook-secret-of-32-characters';
const entry = (id: string, key = randomBytes(32)) => `${id}:${key.toString('base64')}`;

/** Replaces the base64url field `index` (0-based after `enc:v1:<kid>`) of a stored value. */
function withField(stored: string, index: number, change: (bytes: Buffer) => Buffer): string {
  const parts = stored.split(':');
  parts[3 + index] = change(Buffer.from(parts[3 + index], 'base64url')).toString('base64url');
  return parts.join(':');
}
const flipFirstBit = (bytes: Buffer) => {
  const copy = Buffer.from(bytes);
  copy[0] ^= 1;
  return copy;
};

function failureOf(run: () => unknown): WebhookSecretError {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookSecretError) return error;
    throw error;
  }
  throw new Error('expected a WebhookSecretError');
}

describe('WebhookSecretCipher', () => {
  const k1 = entry('k1');
  const k2 = entry('k2');

  it('opens what it sealed, for the same subscription', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    const stored = cipher.encrypt(SUBSCRIPTION, SECRET);
    expect(cipher.decrypt(SUBSCRIPTION, stored)).toBe(SECRET);
  });

  it('stores a versioned, self-describing value that holds no part of the secret', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    const stored = cipher.encrypt(SUBSCRIPTION, SECRET);
    expect(stored).toMatch(/^enc:v1:k1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    expect(stored).not.toContain(SECRET.slice(0, 8));
    expect(storedSecretForm(stored)).toEqual({ kind: 'encrypted', version: 'v1', keyId: 'k1' });
  });

  it('seals the same secret differently each time (a random IV per value)', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    const first = cipher.encrypt(SUBSCRIPTION, SECRET);
    const second = cipher.encrypt(SUBSCRIPTION, SECRET);
    expect(first).not.toBe(second);
    expect(first.split(':')[3]).not.toBe(second.split(':')[3]);
  });

  it('round-trips secrets of every length ingest accepts, and non-ASCII text', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    for (const secret of ['x'.repeat(16), '~'.repeat(256), 'résumé ✓ 秘密', '']) {
      expect(cipher.decrypt(SUBSCRIPTION, cipher.encrypt(SUBSCRIPTION, secret))).toBe(secret);
    }
  });

  it('reads a secret stored before encryption as it is', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    expect(cipher.decrypt(SUBSCRIPTION, SECRET)).toBe(SECRET);
    expect(storedSecretForm(SECRET)).toEqual({ kind: 'plaintext' });
    expect(cipher.isStale(SECRET)).toBe(true);
  });

  it('refuses a value sealed for another subscription (the id is the associated data)', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    const moved = cipher.encrypt(OTHER_SUBSCRIPTION, SECRET);
    const failure = failureOf(() => cipher.decrypt(SUBSCRIPTION, moved));
    expect(failure.reason).toBe('not-authentic');
    expect(failure.code).toBe('CONFIG_INVALID');
    expect(failure.disposition).toBe('halt');
    expect(failure.message).toContain(SUBSCRIPTION);
    expect(failure.message).toMatch(/copied from another subscription/);
  });

  it('refuses a value when the key listed under its id is another key', () => {
    const stored = WebhookSecretCipher.fromKeyRing(k1).encrypt(SUBSCRIPTION, SECRET);
    const failure = failureOf(() => WebhookSecretCipher.fromKeyRing(entry('k1')).decrypt(SUBSCRIPTION, stored));
    expect(failure.reason).toBe('not-authentic');
    expect(failure.keyId).toBe('k1');
  });

  it.each([
    ['tag', 1],
    ['ciphertext', 2],
    ['IV', 0],
  ])('refuses a value whose %s was altered', (_what, index) => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    const tampered = withField(cipher.encrypt(SUBSCRIPTION, SECRET), index, flipFirstBit);
    expect(failureOf(() => cipher.decrypt(SUBSCRIPTION, tampered)).reason).toBe('not-authentic');
  });

  it('refuses a value relabelled with another key id it also holds', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(`${k2},${k1}`);
    const relabelled = cipher.encrypt(SUBSCRIPTION, SECRET).replace(':k2:', ':k1:');
    expect(failureOf(() => cipher.decrypt(SUBSCRIPTION, relabelled)).reason).toBe('not-authentic');
  });

  it('refuses a truncated tag or IV as malformed instead of checking a shorter tag', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    const stored = cipher.encrypt(SUBSCRIPTION, SECRET);
    const shortTag = withField(stored, 1, (bytes) => bytes.subarray(0, 4));
    const shortIv = withField(stored, 0, (bytes) => bytes.subarray(0, 8));
    expect(failureOf(() => cipher.decrypt(SUBSCRIPTION, shortTag)).reason).toBe('malformed');
    expect(failureOf(() => cipher.decrypt(SUBSCRIPTION, shortIv)).reason).toBe('malformed');
    expect(failureOf(() => cipher.decrypt(SUBSCRIPTION, `${stored}:extra`)).reason).toBe('malformed');
    expect(failureOf(() => cipher.decrypt(SUBSCRIPTION, stored.replace(/:[^:]+$/, ':not base64!'))).reason).toBe(
      'malformed',
    );
  });

  it('names an unknown key id and what to do about it', () => {
    const stored = WebhookSecretCipher.fromKeyRing(k1).encrypt(SUBSCRIPTION, SECRET);
    const failure = failureOf(() => WebhookSecretCipher.fromKeyRing(k2).decrypt(SUBSCRIPTION, stored));
    expect(failure.reason).toBe('unknown-key');
    expect(failure.keyId).toBe('k1');
    expect(failure.message).toContain('key id k1, which WEBHOOK_SECRET_KEYS does not list (it lists k2)');
    expect(failure.message).toMatch(/add that key back/);
    expect(failure.toJSON().details).toEqual({ reason: 'unknown-key', subscriptionId: SUBSCRIPTION, keyId: 'k1' });
  });

  it('refuses a format version it does not know', () => {
    const cipher = WebhookSecretCipher.fromKeyRing(k1);
    const future = cipher.encrypt(SUBSCRIPTION, SECRET).replace(/^enc:v1:/, 'enc:v2:');
    expect(failureOf(() => cipher.decrypt(SUBSCRIPTION, future)).reason).toBe('unsupported-version');
  });

  describe('rotation', () => {
    it('seals with the first key and opens with every key listed', () => {
      const old = WebhookSecretCipher.fromKeyRing(k1);
      const underK1 = old.encrypt(SUBSCRIPTION, SECRET);
      const rotated = WebhookSecretCipher.fromKeyRing(`${k2},${k1}`);
      expect(rotated.currentKeyId).toBe('k2');
      expect(rotated.keyIds).toEqual(['k2', 'k1']);
      expect(rotated.decrypt(SUBSCRIPTION, underK1)).toBe(SECRET);
      const underK2 = rotated.encrypt(SUBSCRIPTION, SECRET);
      expect(storedSecretForm(underK2)).toMatchObject({ keyId: 'k2' });
      expect(rotated.isStale(underK1)).toBe(true);
      expect(rotated.isStale(underK2)).toBe(false);
    });

    it('once re-encrypted, no longer needs the old key', () => {
      const underK1 = WebhookSecretCipher.fromKeyRing(k1).encrypt(SUBSCRIPTION, SECRET);
      const rotated = WebhookSecretCipher.fromKeyRing(`${k2},${k1}`);
      const reencrypted = rotated.encrypt(SUBSCRIPTION, rotated.decrypt(SUBSCRIPTION, underK1));
      const withoutOld = WebhookSecretCipher.fromKeyRing(k2);
      expect(withoutOld.decrypt(SUBSCRIPTION, reencrypted)).toBe(SECRET);
      expect(failureOf(() => withoutOld.decrypt(SUBSCRIPTION, underK1)).reason).toBe('unknown-key');
    });
  });

  it('never shows its keys when logged or inspected', () => {
    const key = randomBytes(32);
    const cipher = WebhookSecretCipher.fromKeyRing(entry('k1', key));
    const shown = `${JSON.stringify(cipher)} ${inspect(cipher, { showHidden: true, depth: 5 })}`;
    for (const encoding of ['base64', 'base64url', 'hex'] as const) expect(shown).not.toContain(key.toString(encoding));
    expect(shown).toContain('k1');
  });
});

describe('parseWebhookSecretKeys', () => {
  it('reads entries in order, tolerating spaces around commas', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const keys = parseWebhookSecretKeys(` k2:${a.toString('base64')} , k1:${b.toString('base64')}`);
    expect(keys.map((k) => k.id)).toEqual(['k2', 'k1']);
    expect(keys[0].key.equals(a)).toBe(true);
    expect(keys[1].key.equals(b)).toBe(true);
  });

  const key = randomBytes(32).toString('base64');
  it.each([
    ['nothing', ' , ', /at least one key/],
    ['an entry without an id', key, /entry 1 is not <id>:<base64 of 32 bytes>/],
    ['an id with a space in it', `k 1:${key}`, /entry 1: its key id must be/],
    ['a duplicate id', `k1:${key},k1:${randomBytes(32).toString('base64')}`, /entry 2: key id k1 is listed twice/],
    ['a key that is not base64', `k1:${key.slice(0, -4)}!!!=`, /entry 1 \(k1\): its key is not base64/],
    ['a 16-byte key', `k1:${randomBytes(16).toString('base64')}`, /16 bytes once decoded; AES-256 needs 32/],
    ['a 33-byte key', `k2:${key},k1:${randomBytes(33).toString('base64')}`, /entry 2 \(k1\): its key is 33 bytes/],
  ])('refuses %s, saying what to do, without showing the key', (_what, value, message) => {
    let error: unknown;
    try {
      parseWebhookSecretKeys(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(WebhookSecretKeysError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(key.slice(0, 12));
  });
});

describe('generateWebhookSecretKey', () => {
  it('prints an entry the key ring accepts, with a fresh key each time', () => {
    const first = generateWebhookSecretKey('k3');
    const second = generateWebhookSecretKey('k3');
    expect(first).toMatch(/^k3:[A-Za-z0-9+/]{43}=$/);
    expect(first).not.toBe(second);
    expect(parseWebhookSecretKeys(`${first},${entry('k2')}`)[0].id).toBe('k3');
  });

  it('refuses a key id the ring would refuse', () => {
    expect(() => generateWebhookSecretKey('has:colon')).toThrow(WebhookSecretKeysError);
  });
});

describe('WEBHOOK_SECRET_KEYS in the apps configuration', () => {
  it('is required by ingest and the enricher, optional for the cli, and secret everywhere', () => {
    for (const app of ['ingest', 'enricher', 'cli'] as const) {
      const variable = envVariablesOf(app).find((v) => v.name === 'WEBHOOK_SECRET_KEYS');
      expect({ app, variable }).toEqual({
        app,
        variable: { name: 'WEBHOOK_SECRET_KEYS', defaultValue: undefined, required: app !== 'cli', sensitive: true },
      });
    }
    expect(envVariablesOf('projector').map((v) => v.name)).not.toContain('WEBHOOK_SECRET_KEYS');
  });

  it('is validated at startup, naming the problem without showing the value', () => {
    const short = `k1:${randomBytes(16).toString('base64')}`;
    let error: unknown;
    try {
      loadAppConfig('ingest', { WEBHOOK_SECRET_KEYS: short });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([
      'WEBHOOK_SECRET_KEYS=(hidden): entry 1 (k1): its key is 16 bytes once decoded; AES-256 needs 32 (`asana-stream secrets generate-key` prints a new entry)',
    ]);
    expect(() => loadAppConfig('enricher', { ASANA_TOKEN: 't' })).toThrow(/WEBHOOK_SECRET_KEYS=\(unset\): is required/);
    expect(() => loadAppConfig('cli', { WEBHOOK_SECRET_KEYS: short })).toThrow(/WEBHOOK_SECRET_KEYS=\(hidden\)/);
  });

  it('gives a usable key ring to the app', () => {
    const value = `${entry('k2')},${entry('k1')}`;
    const config = loadAppConfig('ingest', { WEBHOOK_SECRET_KEYS: value });
    expect(WebhookSecretCipher.fromKeyRing(config.secrets.WEBHOOK_SECRET_KEYS).currentKeyId).toBe('k2');
    expect(loadAppConfig('cli', { ASANA_TOKEN: '-' }).secrets.WEBHOOK_SECRET_KEYS).toBeUndefined();
  });
});
