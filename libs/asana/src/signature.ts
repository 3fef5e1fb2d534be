import { createHmac, timingSafeEqual } from 'node:crypto';

/** Asana signs with lowercase hex HMAC-SHA256: anything else is rejected before decoding. */
const SIGNATURE_FORMAT = /^[0-9a-f]{64}$/;

/** The `X-Hook-Signature` Asana sends: lowercase hex HMAC-SHA256 of the raw body, keyed by the webhook secret. */
export function signAsanaBody(secret: string, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(rawBody).digest('hex');
}

/**
 * Checks an `X-Hook-Signature` header against the raw body bytes in constant time.
 * The format check comes first: `Buffer.from(hex)` silently drops trailing garbage and
 * `timingSafeEqual` throws on buffers of unequal length.
 */
export function isValidAsanaSignature(secret: string, rawBody: Buffer, signature: string | undefined): boolean {
  if (typeof signature !== 'string' || !SIGNATURE_FORMAT.test(signature)) return false;
  const expected = Buffer.from(signAsanaBody(secret, rawBody), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}
