/**
 * The Events API's cursors: opaque to consumers, a feed position to us. Versioned (`f1`), so the
 * encoding can change without breaking cursors consumers hold.
 */
const PREFIX = 'f1.';
const POSITION = /^(0|[1-9]\d{0,18})$/;

export class InvalidCursorError extends Error {
  constructor(readonly cursor: string) {
    super('not a cursor this API gave out: pass the `next` of a page (or an SSE event id) as it was');
  }
}

/** The cursor of a feed position: the change at that position and everything before it are read. */
export function encodeCursor(position: bigint): string {
  if (position < 0n) throw new RangeError('a feed position is never negative');
  return Buffer.from(`${PREFIX}${position}`, 'utf8').toString('base64url');
}

/** The feed position of a cursor; throws InvalidCursorError for anything we did not encode. */
export function decodeCursor(cursor: string): bigint {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw new InvalidCursorError(cursor);
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(PREFIX)) throw new InvalidCursorError(cursor);
  const digits = text.slice(PREFIX.length);
  if (!POSITION.test(digits)) throw new InvalidCursorError(cursor);
  const position = BigInt(digits);
  if (position > 9_223_372_036_854_775_807n) throw new InvalidCursorError(cursor);
  // Base64url has more than one spelling of some byte strings: only ours counts.
  if (encodeCursor(position) !== cursor) throw new InvalidCursorError(cursor);
  return position;
}
