import secureJson from 'secure-json-parse';
import type { AsanaDelivery } from '@asana-stream/asana';
import { asanaDeliveryContract } from '@asana-stream/contracts';
import { IngestError } from './ingest.errors';

/**
 * How deeply a delivery's JSON may nest. Asana's events nest five levels (`events`, an event,
 * `change`, `new_value`); the margin is for fields Asana may add. A body nested 100,000 levels
 * costs the parser's and validator's time and memory for nothing, and some walkers recurse.
 */
export const MAX_DELIVERY_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether `json` nests objects and arrays deeper than `maxDepth`, found in one loop over its
 * characters (never recursion: the input is the attacker's). Brackets inside strings do not
 * count; a string is skipped to its closing quote with `indexOf`, since most of a delivery's
 * characters are in strings. Text that is not JSON gets some answer; the parser rejects it
 * afterwards anyway.
 */
export function nestsDeeperThan(json: string, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(json, i);
      if (i < 0) return false;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/** Where the string opened at `open` ends: its first quote not escaped by a backslash; -1 for none. */
function closingQuote(json: string, open: number): number {
  let quote = json.indexOf('"', open + 1);
  while (quote > 0) {
    let backslashes = 0;
    while (json.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = json.indexOf('"', quote + 1);
  }
  return -1;
}

/**
 * Turns a signed body into a delivery, or throws MALFORMED_DELIVERY saying what is wrong with it:
 * invalid UTF-8 (Buffer#toString would silently replace it), nested too deeply to validate, not
 * JSON, a `__proto__` or `constructor.prototype` key (secure-json-parse: `JSON.parse` keeps such
 * a key, and a later `Object.assign` turns it into a prototype), or not the shape of a delivery.
 * The messages never quote the body: they are answered and logged.
 */
export function parseDelivery(body: Buffer): AsanaDelivery {
  if (body.length === 0) throw malformed('the body is empty');
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw malformed('the body is not valid UTF-8');
  }
  if (nestsDeeperThan(text, MAX_DELIVERY_DEPTH)) {
    throw malformed(`the body nests objects or arrays deeper than ${MAX_DELIVERY_DEPTH} levels`);
  }
  let parsed: unknown;
  try {
    parsed = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw malformed(`the body is not acceptable JSON (${jsonReason(error)})`, error);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw malformed('the body is not an Asana delivery: the body must be a JSON object');
  }
  const problems = asanaDeliveryContract.problems(parsed);
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw malformed(`the body is not an Asana delivery: ${problems.slice(0, 5).join('; ')}${more}`);
  }
  return parsed as AsanaDelivery;
}

function malformed(message: string, cause?: unknown): IngestError {
  return new IngestError('MALFORMED_DELIVERY', message, cause === undefined ? {} : { cause });
}

/** Where JSON.parse stopped, or secure-json-parse's reason; never the text it quotes. */
function jsonReason(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  // secure-json-parse says the same for both.
  if (/forbidden prototype property/.test(message)) return 'a forbidden "__proto__" or "constructor.prototype" key';
  if (/end of JSON input/.test(message)) return 'it ends early';
  const position = /at position (\d+)/.exec(message)?.[1];
  return position === undefined ? 'a syntax error' : `a syntax error at character ${position}`;
}
