import { isDeepStrictEqual } from 'node:util';
import type { AsanaResource } from '@asana-stream/asana';
import type { FieldChange } from '@asana-stream/contracts';

/** `modified_at` moves on every change and is the version already: listing it would be noise. */
const IGNORED_FIELDS = new Set(['modified_at']);

/** The top-level fields whose values differ between two states, as `{field: {from, to}}`. */
export function diffStates(before: AsanaResource | null, after: AsanaResource | null): Record<string, FieldChange> {
  const from: Record<string, unknown> = before ?? {};
  const to: Record<string, unknown> = after ?? {};
  const changes: Record<string, FieldChange> = {};
  const fields = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
  for (const field of fields) {
    if (IGNORED_FIELDS.has(field)) continue;
    const a = from[field] ?? null;
    const b = to[field] ?? null;
    if (a === b || (typeof a === 'object' && typeof b === 'object' && isDeepStrictEqual(a, b))) continue;
    changes[field] = { from: a, to: b };
  }
  return changes;
}
