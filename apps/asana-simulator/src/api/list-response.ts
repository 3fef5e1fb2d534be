import type { Request } from 'express';
import type { JsonObject } from '../workspace/opt-fields';
import { nextPage, paginate, readPageRequest, type NextPage } from './pagination';

export interface ListResponse {
  data: JsonObject[];
  next_page?: NextPage | null;
}

/**
 * A list endpoint's body: the requested page of `all` (see `paginate`), each item rendered, and
 * `next_page` with a path and uri that repeat the request with the next offset.
 */
export function listResponse<T>(
  request: Request,
  all: readonly T[],
  visible: (item: T) => boolean,
  listKey: string,
  render: (item: T) => JsonObject,
): ListResponse {
  const page = paginate(all, visible, readPageRequest(request.query), listKey);
  const data = page.items.map(render);
  if (page.nextOffset === undefined) return { data };
  const baseUrl = `${request.protocol}://${request.get('host')}`;
  return { data, next_page: page.nextOffset === null ? null : nextPage(request.originalUrl, baseUrl, page.nextOffset) };
}
