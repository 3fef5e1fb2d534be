import { hash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';
import type { AsanaEvent } from './types';

/** Key-sorted JSON; anything that is not JSON (a cycle, a bigint, a function) is an error, not a guess. */
const canonicalJson = configure({ deterministic: true, circularValue: TypeError, bigint: false, strict: true });

/**
 * A stable id for one Asana event, derived from its content. Asana's deliveries carry no id, and a
 * redelivery may order keys differently, so the id hashes a key-sorted serialisation: the same
 * event from a retry, another webhook or the Events API gets the same id.
 */
export function asanaEventId(event: AsanaEvent): string {
  const canonical = canonicalJson(event);
  if (canonical === undefined) throw new TypeError('an Asana event must be a JSON object');
  // One-shot: half the CPU of createHash().update().digest() for a short input.
  return hash('sha256', canonical, 'hex').slice(0, 32);
}
