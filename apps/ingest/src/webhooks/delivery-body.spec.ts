import { asanaTaskEvent, seededInts } from '@asana-stream/testing';
import { MAX_DELIVERY_DEPTH, nestsDeeperThan, parseDelivery } from './delivery-body';
import { IngestError } from './ingest.errors';

/** The MALFORMED_DELIVERY message `parseDelivery` refuses `body` with. */
function refusal(body: Buffer | string): string {
  try {
    parseDelivery(typeof body === 'string' ? Buffer.from(body) : body);
  } catch (error) {
    expect(error).toBeInstanceOf(IngestError);
    expect((error as IngestError).code).toBe('MALFORMED_DELIVERY');
    return (error as IngestError).message;
  }
  throw new Error('expected the body to be refused');
}

describe('nestsDeeperThan', () => {
  it('counts objects and arrays, not brackets inside strings or escaped quotes', () => {
    expect(nestsDeeperThan('{"a":[{"b":[]}]}', 4)).toBe(false);
    expect(nestsDeeperThan('{"a":[{"b":[]}]}', 3)).toBe(true);
    expect(nestsDeeperThan('{"a":"[[[[[[{{{{"}', 1)).toBe(false);
    expect(nestsDeeperThan('{"a":"\\"[[[["}', 1)).toBe(false);
    expect(nestsDeeperThan('{"a\\\\":[[]]}', 2)).toBe(true);
  });

  it('answers for any JSON what the depth of its parsed value says', () => {
    const next = seededInts(41);
    const pieces = ['[', ']', '{', '}', '"', '\\', '\\"', 'a', 'é', '\n', ' '];
    const text = () => Array.from({ length: next(8) }, () => pieces[next(pieces.length)]).join('');
    const value = (depth: number): unknown => {
      switch (depth === 0 ? 2 + next(2) : next(4)) {
        case 0:
          return Array.from({ length: next(4) }, () => value(depth - 1));
        case 1:
          return Object.fromEntries(Array.from({ length: next(4) }, () => [text(), value(depth - 1)]));
        case 2:
          return text();
        default:
          return next(1000);
      }
    };
    const depthOf = (parsed: unknown): number =>
      typeof parsed === 'object' && parsed !== null ? 1 + Math.max(0, ...Object.values(parsed).map(depthOf)) : 0;
    for (let n = 0; n < 2000; n++) {
      const json = JSON.stringify(value(next(12)));
      const depth = depthOf(JSON.parse(json));
      for (const max of [0, 1, depth - 1, depth, depth + 1].filter((m) => m >= 0))
        expect([json, max, nestsDeeperThan(json, max)]).toEqual([json, max, depth > max]);
    }
  });

  it('walks a million levels in a loop, without recursing', () => {
    const deep = `${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`;
    expect(nestsDeeperThan(deep, MAX_DELIVERY_DEPTH)).toBe(true);
  });
});

describe('parseDelivery', () => {
  const event = asanaTaskEvent();

  it('returns the delivery of a valid body, BOM-free UTF-8 with non-ASCII text', () => {
    const body = Buffer.from(JSON.stringify({ events: [{ ...event, note: 'résumé ✓' }] }));
    expect(parseDelivery(body).events).toHaveLength(1);
  });

  it(`accepts ${MAX_DELIVERY_DEPTH} levels and refuses one more, before any parser or validator recurses`, () => {
    const nested = (depth: number) => `{"events":[],"x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    expect(parseDelivery(Buffer.from(nested(MAX_DELIVERY_DEPTH))).events).toEqual([]);
    expect(refusal(nested(MAX_DELIVERY_DEPTH + 1))).toBe(
      `the body nests objects or arrays deeper than ${MAX_DELIVERY_DEPTH} levels`,
    );
    expect(refusal(`{"events":[${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}]}`)).toMatch(/deeper than/);
  });

  it.each<[string, Buffer | string, RegExp]>([
    ['an empty body', '', /^the body is empty$/],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), /^the body is not valid UTF-8$/],
    ['an overlong UTF-8 encoding', Buffer.from([0x22, 0xc0, 0xaf, 0x22]), /^the body is not valid UTF-8$/],
    ['a lone surrogate', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), /^the body is not valid UTF-8$/],
    ['text that ends early', '{"events":[', /^the body is not acceptable JSON \(it ends early\)$/],
    ['a syntax error', '{"events":[] x}', /^the body is not acceptable JSON \(a syntax error at character \d+\)$/],
    ['a __proto__ key', '{"events":[],"__proto__":{"x":1}}', /forbidden "__proto__" or "constructor.prototype" key/],
    [
      'a constructor.prototype key',
      '{"events":[],"constructor":{"prototype":{}}}',
      /forbidden "__proto__" or "constructor.prototype" key/,
    ],
    ['an array', '[]', /^the body is not an Asana delivery: the body must be a JSON object$/],
    ['no events', '{"data":[]}', /^the body is not an Asana delivery: events: /],
  ])('refuses %s, saying why', (_label, body, reason) => {
    expect(refusal(body)).toMatch(reason);
  });

  it('never quotes the body in its reason', () => {
    expect(refusal('{"events":[], secret-value}')).not.toContain('secret-value');
    expect(refusal(JSON.stringify({ events: [{ ...event, action: 'secret-value' }] }))).not.toContain('secret-value');
  });

  it('lists at most five problems and counts the rest', () => {
    const events = Array.from({ length: 7 }, () => ({ ...event, action: 'exploded' }));
    expect(refusal(JSON.stringify({ events }))).toMatch(/\(and 2 more\)$/);
  });
});
