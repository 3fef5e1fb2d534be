import { finished } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

/** What COPY's text format escapes in a field: backslash, newline, carriage return, tab. */
const SPECIAL = /[\\\n\r\t]/;
const SPECIALS = /[\\\n\r\t]/g;
const ESCAPED: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One field of `COPY ... FROM STDIN` in its text format: `\N` for null, the rest escaped. */
export function copyTextField(value: string | null): string {
  if (value === null) return '\\N';
  return SPECIAL.test(value) ? value.replace(SPECIALS, (special) => ESCAPED[special]) : value;
}

/**
 * One line of COPY data in its text format, as UTF-8: the fields escaped and tab-separated. Each
 * line is encoded on its own: encoding one string of a whole batch's lines costs V8 several times
 * as much (it flattens the concatenation first).
 */
export function copyTextLine(fields: readonly (string | null)[]): Buffer {
  return Buffer.from(`${fields.map(copyTextField).join('\t')}\n`);
}

/**
 * Runs `COPY ... FROM STDIN` (`sql`) with `data` (lines of `copyTextLine`) on `client`, in its open
 * transaction if any, and resolves once Postgres has taken it all. The data is written and the
 * stream ended directly: `stream.pipeline` aborts an AbortController of its own as it finishes,
 * which builds a DOMException with its stack for every COPY.
 */
export async function copyIn(client: ClientBase, sql: string, data: Buffer): Promise<void> {
  const copy = client.query(copyFrom(sql));
  copy.end(data);
  await finished(copy);
}
