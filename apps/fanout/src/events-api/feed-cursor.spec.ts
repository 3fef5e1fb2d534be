import { decodeCursor, encodeCursor, InvalidCursorError } from './feed-cursor';

describe('feed cursors', () => {
  it.each([0n, 1n, 42n, 1_000_000n, 9_223_372_036_854_775_807n])('round-trips position %s', (position) => {
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toBe(position);
  });

  it('orders nothing by its text: a cursor is opaque, not a number', () => {
    expect(encodeCursor(5n)).not.toContain('5');
  });

  it.each([
    ['empty', ''],
    ['a plain number', '42'],
    ['not base64url', 'ab+/=='],
    ['another prefix', Buffer.from('f2.42').toString('base64url')],
    ['a negative position', Buffer.from('f1.-1').toString('base64url')],
    ['leading zeros', Buffer.from('f1.007').toString('base64url')],
    ['trailing text', Buffer.from('f1.7x').toString('base64url')],
    ['beyond bigint', Buffer.from('f1.9223372036854775808').toString('base64url')],
    ['too long', 'A'.repeat(65)],
  ])('refuses %s', (_name, cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(InvalidCursorError);
  });

  it('refuses a second spelling of its own bytes', () => {
    const cursor = encodeCursor(1n); // 4 bytes in 6 characters: the last one carries 4 spare bits
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = cursor.slice(0, -1) + alphabet[alphabet.indexOf(cursor.at(-1)!) ^ 1];
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(cursor, 'base64url'));
    expect(() => decodeCursor(respelled)).toThrow(InvalidCursorError);
  });

  it('refuses a negative position when encoding', () => {
    expect(() => encodeCursor(-1n)).toThrow(RangeError);
  });
});
