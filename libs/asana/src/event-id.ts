import { createHash } from 'node:crypto';
import stableStringify from 'json-stable-stringify';
import type { AsanaEvent } from './types';

/**
 * A stable id for one Asana event, derived from its content. Asana's deliveries carry no id, and a
 * redelivery may order keys differently, so the id hashes a key-sorted serialisation: the same
 * event from a retry, another webhook or the Events API gets the same id.
 */
export function asanaEventId(event: AsanaEvent): string {
  const canonical = stableStringify(event);
  if (canonical === undefined) throw new TypeError('an Asana event must be a JSON object');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}
