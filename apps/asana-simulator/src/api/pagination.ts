import { invalidRequest } from '../simulator.errors';

export const API_BASE_PATH = '/api/1.0';

export interface PageRequest {
  limit: number | undefined;
  offset: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** The token of the page after this one, null on the last page; undefined when not paginated. */
  nextOffset: string | null | undefined;
}

export interface NextPage {
  offset: string;
  path: string;
  uri: string;
}

/** Reads `limit` (1–100, as Asana enforces) and `offset` from a query. */
export function readPageRequest(query: Record<string, unknown>): PageRequest {
  const { limit, offset } = query;
  if (offset !== undefined && typeof offset !== 'string') throw invalidRequest('offset: Invalid offset');
  if (limit === undefined) return { limit: undefined, offset };
  const parsed = typeof limit === 'string' && /^\d+$/.test(limit) ? Number(limit) : NaN;
  if (!(parsed >= 1 && parsed <= 100)) {
    throw invalidRequest('limit: The limit must be between 1 and 100');
  }
  return { limit: parsed, offset };
}

/**
 * One page of `all`, an append-only list in a stable order (trashed items stay in it but are
 * hidden), so an offset, the index to resume at, survives deletions between pages. The token is
 * opaque to clients (base64url JSON, like Asana's) and bound to the list it came from.
 *
 * Without `limit` or `offset` Asana returns the whole list and no `next_page` (its spec: next_page
 * "is only present when a limit query parameter is provided"); an offset alone pages by 100.
 */
export function paginate<T>(
  all: readonly T[],
  visible: (item: T) => boolean,
  request: PageRequest,
  listKey: string,
): Page<T> {
  if (request.limit === undefined && request.offset === undefined) {
    return { items: all.filter(visible), nextOffset: undefined };
  }
  const limit = request.limit ?? 100;
  let index = request.offset === undefined ? 0 : decodeOffset(request.offset, listKey);
  const items: T[] = [];
  while (index < all.length && items.length < limit) {
    if (visible(all[index])) items.push(all[index]);
    index += 1;
  }
  const more = all.slice(index).some(visible);
  return { items, nextOffset: more ? encodeOffset(listKey, index) : null };
}

/** Asana's `next_page` for a request: the same path and query with the new offset. */
export function nextPage(originalUrl: string, baseUrl: string, offset: string): NextPage {
  const url = new URL(originalUrl, 'http://simulator.invalid');
  url.searchParams.set('offset', offset);
  const path = `${url.pathname.slice(API_BASE_PATH.length)}${url.search}`;
  return { offset, path, uri: `${baseUrl}${API_BASE_PATH}${path}` };
}

function encodeOffset(listKey: string, index: number): string {
  return Buffer.from(JSON.stringify({ list: listKey, index })).toString('base64url');
}

function decodeOffset(offset: string, listKey: string): number {
  try {
    const token = JSON.parse(Buffer.from(offset, 'base64url').toString('utf8')) as { list?: unknown; index?: unknown };
    if (token.list === listKey && Number.isInteger(token.index) && (token.index as number) >= 0) {
      return token.index as number;
    }
  } catch {
    // Not one of ours: rejected below like any other foreign token.
  }
  throw invalidRequest('offset: Your pagination token is invalid. Start again without an offset.');
}
