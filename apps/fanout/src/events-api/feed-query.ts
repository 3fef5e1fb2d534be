import { ROUTE_NAME } from '@asana-stream/contracts';
import { decodeCursor, InvalidCursorError } from './feed-cursor';
import { EventsApiError } from './events-api.errors';

/** Where a read of the feed starts. */
export type FeedStart =
  | { kind: 'cursor'; position: bigint }
  | { kind: 'since'; since: Date }
  /** No cursor and no time: the oldest change the feed still keeps. */
  | { kind: 'oldest' };

export interface FeedQuery {
  start: FeedStart;
  limit: number;
  /** Resource types to read (null: every type the consumer may read). */
  types: string[] | null;
  /** A route whose filter the changes must match (null: none). */
  route: string | null;
  /** Seconds a long-poll waits for a first change (0: answer at once). */
  waitSeconds: number;
}

export interface FeedQueryLimits {
  maxLimit: number;
  maxWaitSeconds: number;
}

export const DEFAULT_LIMIT = 100;
const TYPE = /^[a-z][a-z_]{0,39}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** Every query parameter of `GET /events`; the stream takes them all but `wait` and `limit`. */
export const FEED_QUERY_PARAMETERS = ['after', 'since', 'limit', 'types', 'route', 'wait'] as const;
const KNOWN = new Set<string>(FEED_QUERY_PARAMETERS);

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new EventsApiError('INVALID_QUERY', `${name} may be given once`);
  return value;
}

function integer(value: string, name: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new EventsApiError('INVALID_QUERY', `${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return Number(value);
}

/**
 * Reads `GET /events` (and `/events/stream`) parameters: `after` (a cursor) or `since` (an ISO
 * time), `limit`, `types` (comma-separated), `wait` (seconds). `lastEventId` (SSE's resume header)
 * counts as `after`. Anything unknown or malformed is a 400 naming the parameter.
 */
export function parseFeedQuery(
  query: Record<string, unknown>,
  limits: FeedQueryLimits,
  lastEventId?: string,
): FeedQuery {
  const unknown = Object.keys(query).filter((name) => !KNOWN.has(name));
  if (unknown.length > 0) {
    throw new EventsApiError(
      'INVALID_QUERY',
      `unknown parameter ${unknown.join(', ')}: the feed takes ${FEED_QUERY_PARAMETERS.join(', ')}`,
    );
  }
  const after = lastEventId ?? single(query, 'after');
  const since = single(query, 'since');
  if (after !== undefined && since !== undefined) {
    throw new EventsApiError('INVALID_QUERY', 'give after (a cursor) or since (a time), not both');
  }
  let start: FeedStart = { kind: 'oldest' };
  if (after !== undefined) {
    try {
      start = { kind: 'cursor', position: decodeCursor(after) };
    } catch (error) {
      if (error instanceof InvalidCursorError) throw new EventsApiError('INVALID_CURSOR', error.message);
      throw error;
    }
  } else if (since !== undefined) {
    const time = new Date(since);
    if (!ISO_TIME.test(since) || Number.isNaN(time.getTime())) {
      throw new EventsApiError(
        'INVALID_QUERY',
        `since must be an ISO 8601 time such as 2026-12-01T08:00:00Z, got "${since}"`,
      );
    }
    start = { kind: 'since', since: time };
  }
  const limitText = single(query, 'limit');
  const waitText = single(query, 'wait');
  const typesText = single(query, 'types');
  const route = single(query, 'route');
  if (route !== undefined && !ROUTE_NAME.test(route)) {
    throw new EventsApiError(
      'INVALID_QUERY',
      `route must be a route's name (see \`asana-stream routes list\`), got "${route}"`,
    );
  }
  let types: string[] | null = null;
  if (typesText !== undefined) {
    types = [...new Set(typesText.split(',').map((t) => t.trim()))];
    const bad = types.filter((t) => !TYPE.test(t));
    if (bad.length > 0 || types.length === 0) {
      throw new EventsApiError(
        'INVALID_QUERY',
        `types must be resource types separated by commas (task,project), got "${typesText}"`,
      );
    }
  }
  return {
    start,
    limit:
      limitText === undefined
        ? Math.min(DEFAULT_LIMIT, limits.maxLimit)
        : integer(limitText, 'limit', 1, limits.maxLimit),
    types,
    route: route ?? null,
    waitSeconds: waitText === undefined ? 0 : integer(waitText, 'wait', 0, limits.maxWaitSeconds),
  };
}

/**
 * The types a consumer reads: what it asked for, within what it may read. Asking for a type
 * outside its grant is a 403 (silently dropping it would look like a quiet type).
 */
export function typesToRead(asked: string[] | null, granted: string[] | null): string[] | null {
  if (granted === null) return asked;
  if (asked === null) return granted;
  const refused = asked.filter((t) => !granted.includes(t));
  if (refused.length > 0) {
    throw new EventsApiError(
      'FORBIDDEN_TYPES',
      `this token may read ${granted.join(', ')} only, not ${refused.join(', ')}: ask the operators for a token with those types`,
    );
  }
  return asked;
}

/**
 * The route a consumer reads with: a token limited to routes reads only with `route=` one of them
 * (anything else, no route included, is a 403); any other token may name any route.
 */
export function routeToRead(asked: string | null, granted: string[] | null): string | null {
  if (granted === null) return asked;
  if (asked === null || !granted.includes(asked)) {
    throw new EventsApiError(
      'FORBIDDEN_ROUTE',
      `this token may read with route=${granted.join(' or route=')} only${asked === null ? '' : `, not route=${asked}`}: ask the operators for a token with that route`,
    );
  }
  return asked;
}
