import { hash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';
import type { AsanaEvent } from './types';

/** Key-sorted JSON; anything that is not JSON (a cycle, a bigint, a function) is an error, not a guess. */
const canonicalJson = configure({ deterministic: true, circularValue: TypeError, bigint: false, strict: true });

/** An event's key-sorted JSON and the id hashed from it (`asanaEventId`). */
export interface CanonicalAsanaEvent {
  eventId: string;
  /** The event as key-sorted JSON: what the id is a hash of, and a faithful copy of the event. */
  json: string;
}

/**
 * A stable id for one Asana event, derived from its content. Asana's deliveries carry no id, and a
 * redelivery may order keys differently, so the id hashes a key-sorted serialisation: the same
 * event from a retry, another webhook or the Events API gets the same id.
 */
export function asanaEventId(event: AsanaEvent): string {
  return canonicalAsanaEvent(event).eventId;
}

/** `asanaEventId`, with the key-sorted JSON it hashed: whoever also writes the event as JSON serialises it once. */
export function canonicalAsanaEvent(event: AsanaEvent): CanonicalAsanaEvent {
  const json = canonicalJson(event);
  if (json === undefined) throw new TypeError('an Asana event must be a JSON object');
  // One-shot: half the CPU of createHash().update().digest() for a short input.
  return { eventId: hash('sha256', json, 'hex').slice(0, 32), json };
}
