import { createHmac } from 'node:crypto';
import { isValidAsanaSignature, signAsanaBody } from './signature';

const secret = 'b0b5e3a1c2d4e6f8a0b1c2d3e4f5a6b7';
const body = Buffer.from('{"events":[{"action":"changed"}]}');
const good = createHmac('sha256', secret).update(body).digest('hex');

describe('Asana webhook signatures', () => {
  it('signs with lowercase hex HMAC-SHA256 of the raw body, keyed by the secret', () => {
    expect(signAsanaBody(secret, body)).toBe(good);
    expect(signAsanaBody(secret, body)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts the signature Asana computes over the exact bytes', () => {
    expect(isValidAsanaSignature(secret, body, good)).toBe(true);
  });

  it('rejects a signature over a re-serialised body with the same JSON meaning', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(isValidAsanaSignature(secret, reserialised, good)).toBe(false);
  });

  it('rejects a signature made with another secret', () => {
    expect(isValidAsanaSignature('another-secret', body, good)).toBe(false);
  });

  it('rejects a missing signature', () => {
    expect(isValidAsanaSignature(secret, body, undefined)).toBe(false);
  });

  it.each([
    ['uppercase hex', good.toUpperCase()],
    ['a truncated signature', good.slice(0, 63)],
    ['trailing garbage that Buffer.from(hex) would ignore', `${good}zz`],
    ['an extra hex byte', `${good}00`],
    ['an empty string', ''],
    ['a sha256= prefix', `sha256=${good}`],
    ['whitespace', ` ${good}`],
  ])('rejects %s without throwing', (_label, signature) => {
    expect(() => isValidAsanaSignature(secret, body, signature)).not.toThrow();
    expect(isValidAsanaSignature(secret, body, signature)).toBe(false);
  });

  it('rejects a one-bit change in the body', () => {
    const flipped = Buffer.from(body);
    flipped[5] ^= 1;
    expect(isValidAsanaSignature(secret, flipped, good)).toBe(false);
  });
});
