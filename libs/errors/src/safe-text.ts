/** The longest text taken from a third-party error into one of ours. */
export const MAX_TEXT = 200;

const CREDENTIALS: [RegExp, string][] = [
  // scheme://user:password@host: a DATABASE_URL, a broker URL
  [/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@'],
  // Authorization: Bearer <token>, Basic <credentials>
  [/\b(bearer|basic)\s+[^\s,;'"]+/gi, '$1 ***'],
  // password=..., token: ..., secret "...", x-hook-secret=...
  [/\b([\w-]*(?:password|passwd|secret|token|api[_-]?key)[\w-]*)(["']?\s*[:=]\s*["']?)[^\s,;'"&]+/gi, '$1$2***'],
];

/**
 * A third-party error's message made fit for ours: credentials masked, anything from the
 * first `{` dropped (libraries that print the offending message or body as JSON), one line,
 * at most `MAX_TEXT` characters.
 */
export function safeText(text: string): string {
  let safe = text.split('{', 1)[0];
  for (const [pattern, replacement] of CREDENTIALS) safe = safe.replace(pattern, replacement);
  safe = safe.replace(/\s+/g, ' ').trim();
  return safe.length > MAX_TEXT ? `${safe.slice(0, MAX_TEXT - 1)}…` : safe;
}
