import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { AsanaStreamError } from '@asana-stream/errors';

/*
 * Webhook secrets at rest: AES-256-GCM (node:crypto) under a key ring from WEBHOOK_SECRET_KEYS.
 * The first key seals, every key listed opens, so a new key goes first and the old one stays
 * listed until `asana-stream secrets reencrypt` has moved every row to the new one.
 *
 * Stored form, all base64url: `enc:v1:<key id>:<iv>:<tag>:<ciphertext>`. The version and key id
 * say how to open it without trying keys; the subscription id (and the key id) are the associated
 * data, so a sealed secret copied onto another row does not open there. A value without the
 * `enc:` prefix is a secret stored before encryption, read as it is until re-encrypted.
 */

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
/** 96 bits: GCM's own nonce size; a random one per seal (a key seals far fewer than 2^32 secrets). */
const IV_BYTES = 12;
const TAG_BYTES = 16;
const PREFIX = 'enc:';
const VERSION = 'v1';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** What an operator runs to get a key entry. */
export const GENERATE_KEY_HINT = '`asana-stream secrets generate-key` prints a new entry';

/** One key of the ring: its id (written into each value it seals) and its 32 bytes. */
export interface WebhookSecretKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Why WEBHOOK_SECRET_KEYS cannot be used; its message names the entry, never a key. */
export class WebhookSecretKeysError extends Error {
  override readonly name = 'WebhookSecretKeysError';
}

/**
 * Parses `WEBHOOK_SECRET_KEYS`: `<id>:<base64 of 32 bytes>` entries separated by commas, the
 * current (sealing) key first. Throws a WebhookSecretKeysError naming what is wrong (the entry's
 * position and id, never its key) and how to fix it.
 */
export function parseWebhookSecretKeys(value: string): WebhookSecretKey[] {
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) {
    throw new WebhookSecretKeysError(`must list at least one key as <id>:<base64 of 32 bytes> (${GENERATE_KEY_HINT})`);
  }
  const keys: WebhookSecretKey[] = [];
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      throw new WebhookSecretKeysError(
        `${where} is not <id>:<base64 of 32 bytes> (entries are separated by commas; ${GENERATE_KEY_HINT})`,
      );
    }
    const id = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1);
    if (!KEY_ID.test(id)) {
      throw new WebhookSecretKeysError(`${where}: its key id must be 1 to 32 letters, digits, "_" or "-"`);
    }
    if (keys.some((key) => key.id === id)) {
      throw new WebhookSecretKeysError(`${where}: key id ${id} is listed twice; each key needs its own id`);
    }
    const key = Buffer.from(encoded, 'base64');
    // Node's decoder skips what is not base64; re-encoding shows whether anything was skipped.
    if (!BASE64.test(encoded) || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
      throw new WebhookSecretKeysError(`${where} (${id}): its key is not base64 (${GENERATE_KEY_HINT})`);
    }
    if (key.length !== KEY_BYTES) {
      throw new WebhookSecretKeysError(
        `${where} (${id}): its key is ${key.length} bytes once decoded; AES-256 needs ${KEY_BYTES} (${GENERATE_KEY_HINT})`,
      );
    }
    keys.push({ id, key });
  });
  return keys;
}

/** What is wrong with a WEBHOOK_SECRET_KEYS value, or undefined when it is a usable key ring. */
export function describeKeyRingProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `is required: set it to <id>:<base64 of 32 bytes> (${GENERATE_KEY_HINT})`;
  try {
    parseWebhookSecretKeys(value);
    return undefined;
  } catch (error) {
    if (error instanceof WebhookSecretKeysError) return error.message;
    throw error;
  }
}

/** A new key entry for WEBHOOK_SECRET_KEYS: `<id>:<base64 of 32 random bytes>`. */
export function generateWebhookSecretKey(id: string): string {
  if (!KEY_ID.test(id)) throw new WebhookSecretKeysError('a key id must be 1 to 32 letters, digits, "_" or "-"');
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/** Why a stored secret does not open. */
export type WebhookSecretFailure = 'unknown-key' | 'unsupported-version' | 'malformed' | 'not-authentic';

/**
 * A stored secret that cannot be read with this process's WEBHOOK_SECRET_KEYS. A `halt`
 * (CONFIG_INVALID): nothing signed with that secret can be verified until someone acts. The
 * message says what to do; it carries the subscription id and key id, never a key or a secret.
 */
export class WebhookSecretError extends AsanaStreamError {
  declare readonly code: 'CONFIG_INVALID';
  constructor(
    readonly reason: WebhookSecretFailure,
    readonly subscriptionId: string,
    readonly keyId: string | undefined,
    message: string,
  ) {
    super('CONFIG_INVALID', message, { details: { reason, subscriptionId, keyId } });
    this.name = 'WebhookSecretError';
  }
}

/** What a stored secret is, read from its form alone (no key needed). */
export type StoredSecretForm = { kind: 'plaintext' } | { kind: 'encrypted'; version: string; keyId: string };

/** Whether a stored value is sealed (and under which key id) or a secret stored before encryption. */
export function storedSecretForm(stored: string): StoredSecretForm {
  if (!stored.startsWith(PREFIX)) return { kind: 'plaintext' };
  const [, version = '', keyId = ''] = stored.split(':');
  return { kind: 'encrypted', version, keyId };
}

/**
 * Seals and opens webhook secrets with a key ring (see `parseWebhookSecretKeys`): the first key
 * seals, every key opens what it sealed. Holds the keys; never log it.
 */
export class WebhookSecretCipher {
  private readonly keys: ReadonlyMap<string, Buffer>;
  /** The id of the key new secrets are sealed with. */
  readonly currentKeyId: string;

  constructor(keys: readonly WebhookSecretKey[]) {
    if (keys.length === 0) throw new WebhookSecretKeysError('a key ring needs at least one key');
    this.keys = new Map(keys.map(({ id, key }) => [id, Buffer.from(key)]));
    this.currentKeyId = keys[0].id;
  }

  /** A cipher from a WEBHOOK_SECRET_KEYS value (validated by the app's config already). */
  static fromKeyRing(value: string): WebhookSecretCipher {
    return new WebhookSecretCipher(parseWebhookSecretKeys(value));
  }

  /** The key ids this cipher opens, the current one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** `secret` sealed with the current key for the subscription `subscriptionId`, in stored form. */
  encrypt(subscriptionId: string, secret: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.keys.get(this.currentKeyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(this.currentKeyId, subscriptionId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return [
      `${PREFIX}${VERSION}`,
      this.currentKeyId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ciphertext.toString('base64url'),
    ].join(':');
  }

  /**
   * The secret a stored value holds for `subscriptionId`: opened with the key its id names, or a
   * secret stored before encryption as it is. Throws a WebhookSecretError when it does not open.
   */
  decrypt(subscriptionId: string, stored: string): string {
    const form = storedSecretForm(stored);
    if (form.kind === 'plaintext') return stored;
    const fail = (reason: WebhookSecretFailure, message: string): never => {
      throw new WebhookSecretError(reason, subscriptionId, form.keyId || undefined, message);
    };
    const row = `the webhook secret of subscription ${subscriptionId}`;
    if (form.version !== VERSION) {
      fail(
        'unsupported-version',
        `${row} is stored in a format this version does not read (${form.version || 'none'}); run the release that wrote it, or a newer one`,
      );
    }
    const parts = stored.split(':');
    const [, , keyId, iv, tag, ciphertext] = parts;
    if (parts.length !== 6 || ![iv, tag, ciphertext].every((part) => BASE64URL.test(part))) {
      fail('malformed', `${row} is not a well-formed sealed value: restore the row, or rotate the webhook`);
    }
    const key = this.keys.get(keyId);
    if (key === undefined) {
      fail(
        'unknown-key',
        `${row} is sealed with key id ${keyId}, which WEBHOOK_SECRET_KEYS does not list (it lists ${this.keyIds.join(', ')}): ` +
          'add that key back after the current one (ingest, the enricher and the cli must all list it)',
      );
    }
    const ivBytes = Buffer.from(iv, 'base64url');
    const tagBytes = Buffer.from(tag, 'base64url');
    if (ivBytes.length !== IV_BYTES || tagBytes.length !== TAG_BYTES) {
      fail('malformed', `${row} is not a well-formed sealed value: restore the row, or rotate the webhook`);
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, key!, ivBytes, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(keyId, subscriptionId));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // GCM says only that the tag does not match: another key under this id, an altered value,
      // or a value copied from another subscription's row.
      return fail(
        'not-authentic',
        `${row} does not open with key ${keyId}: the key listed under that id is not the one that sealed it, ` +
          `or the stored value was altered or copied from another subscription; restore the key or the row, or rotate the webhook`,
      );
    }
  }

  /** Whether a stored value should be sealed again: stored before encryption, or under a key that is not current. */
  isStale(stored: string): boolean {
    const form = storedSecretForm(stored);
    return form.kind === 'plaintext' || form.keyId !== this.currentKeyId;
  }

  /** Never the keys, should a cipher reach a log line or an inspector. */
  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `WebhookSecretCipher { currentKeyId: ${this.currentKeyId}, keyIds: ${this.keyIds.join(', ')} }`;
  }
}

function associatedData(keyId: string, subscriptionId: string): Buffer {
  return Buffer.from(`asana-stream webhook secret ${VERSION} ${keyId} ${subscriptionId}`, 'utf8');
}
