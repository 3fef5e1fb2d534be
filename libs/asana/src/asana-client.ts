import secureJson from 'secure-json-parse';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { abortedError, AsanaApiError, asanaErrorForStatus, nullIfNotVisible } from './asana-api.errors';
import type { AsanaEvent, AsanaResource, AsanaWebhook, AsanaWebhookCompact, AsanaWebhookFilter } from './types';

export interface AsanaClientOptions {
  /** e.g. `https://app.asana.com/api/1.0` */
  baseUrl: string;
  /** Personal access token or OAuth access token. */
  token: string;
  /** Per-request timeout. */
  timeoutMs?: number;
}

/**
 * The agent of every call to Asana: undici's, following redirects as fetch does (at most 20; the
 * token is not sent on to another origin), with keep-alive connections.
 */
const ASANA_DISPATCHER = new Agent().compose(interceptors.redirect({ maxRedirections: 20 }));

/** Path segment of each resource type's `GET /{segment}/{gid}` endpoint. */
const RESOURCE_PATHS: Record<string, string> = {
  task: 'tasks',
  project: 'projects',
  section: 'sections',
  story: 'stories',
  tag: 'tags',
  user: 'users',
  team: 'teams',
  portfolio: 'portfolios',
  goal: 'goals',
  attachment: 'attachments',
  workspace: 'workspaces',
};

export interface CreatedWebhook {
  webhook: AsanaWebhook;
  /** The handshake secret Asana returns with the 201, to compare with the one our receiver stored. */
  secret: string;
}

/**
 * One answer of Asana's Events API (`GET /events?resource=&sync=`): the events since the token
 * (at most 100, `hasMore` when more wait) with the token to continue from, or, for a first call or
 * a token Asana no longer knows, `expired` with a fresh token marking "now": whatever happened
 * before it can only be learnt by fetching the resource's contents again.
 */
export type EventsAnswer =
  { kind: 'events'; events: AsanaEvent[]; sync: string; hasMore: boolean } | { kind: 'expired'; sync: string };

/** One page of a list: its items, and the offset of the next page (null: this was the last). */
export interface AsanaPage {
  data: AsanaResource[];
  nextOffset: string | null;
}

/** Which page of a list to read, and the fields of each item. */
export interface ListPageOptions {
  optFields?: readonly string[];
  /** 1 to 100; 100 when not given. */
  limit?: number;
  /** The previous page's `next_page.offset`; none for the first page. */
  offset?: string | null;
}

function pageQuery({ optFields, limit = 100, offset }: ListPageOptions): Record<string, string> {
  const query: Record<string, string> = { limit: String(limit) };
  if (optFields?.length) query.opt_fields = optFields.join(',');
  if (offset) query.offset = offset;
  return query;
}

/** What one call may be given besides its arguments. */
export interface AsanaCallOptions {
  /**
   * Cancels the request, even mid-response: the call rejects at once with an AsanaStreamError
   * ABORTED (a shutdown), never with an AsanaApiError, since Asana did not fail.
   */
  signal?: AbortSignal;
}

/**
 * A small client for the parts of Asana's REST API asana-stream uses. It knows Asana's
 * envelopes and errors; it does not retry or pace itself (the caller's rate limiter does).
 */
export class AsanaClient {
  private readonly baseUrl: string;

  constructor(private readonly options: AsanaClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** Whether `GET /{type}s/{gid}` exists for this resource type. */
  static canFetch(resourceType: string): boolean {
    return resourceType in RESOURCE_PATHS;
  }

  /** The resource's current state; AsanaApiError NOT_VISIBLE when deleted or out of reach. */
  async getResource(
    resourceType: string,
    gid: string,
    optFields?: readonly string[],
    { signal }: AsanaCallOptions = {},
  ): Promise<AsanaResource> {
    const segment = RESOURCE_PATHS[resourceType];
    if (!segment) throw new AsanaApiError('REJECTED', `no endpoint for resource type ${resourceType}`, null, false);
    const query = optFields?.length ? { opt_fields: optFields.join(',') } : undefined;
    const path = `/${segment}/${encodeURIComponent(gid)}`;
    const body = await this.request<{ data: AsanaResource }>('GET', path, query, undefined, signal);
    return body.data;
  }

  /**
   * The resource's events after `sync` (contract §7). A 412 is an answer, not a failure: it
   * carries the new token. Without `sync` Asana always answers 412.
   */
  async getEvents(resource: string, sync: string | null, { signal }: AsanaCallOptions = {}): Promise<EventsAnswer> {
    const query: Record<string, string> = { resource };
    if (sync !== null) query.sync = sync;
    const { status, body } = await this.exchange<{ data?: unknown; sync?: unknown; has_more?: unknown }>(
      'GET',
      '/events',
      query,
      undefined,
      signal,
      [412],
    );
    if (typeof body.sync !== 'string' || body.sync === '') {
      throw new AsanaApiError('MALFORMED_RESPONSE', `GET /events → ${status}: no sync token in the answer`, status);
    }
    if (status === 412) return { kind: 'expired', sync: body.sync };
    if (!Array.isArray(body.data)) {
      throw new AsanaApiError('MALFORMED_RESPONSE', 'GET /events: the answer has no data array', status);
    }
    return { kind: 'events', events: body.data as AsanaEvent[], sync: body.sync, hasMore: body.has_more === true };
  }

  /**
   * One page of a project's tasks (`GET /projects/{gid}/tasks`, at most 100 with `opt_fields`),
   * and the offset of the next page, null at the end. Asana's offsets expire: an old one is
   * answered 400 (REJECTED), and the listing starts over.
   */
  async listProjectTasks(
    projectGid: string,
    { optFields, limit = 100, offset }: { optFields?: readonly string[]; limit?: number; offset?: string | null },
    { signal }: AsanaCallOptions = {},
  ): Promise<AsanaPage> {
    const query: Record<string, string> = { limit: String(limit) };
    if (optFields?.length) query.opt_fields = optFields.join(',');
    if (offset) query.offset = offset;
    return this.listPage(`/projects/${encodeURIComponent(projectGid)}/tasks`, query, signal);
  }

  /**
   * One page of the project's tasks modified at or after `since` (`GET /tasks?project=&modified_since=`,
   * at most 100 with `opt_fields`), and the next page's offset, null at the end. Trashed tasks are
   * not listed. Offsets expire as `listProjectTasks`' do (400, REJECTED).
   */
  async listTasksModifiedSince(
    projectGid: string,
    since: Date,
    { optFields, limit = 100, offset }: { optFields?: readonly string[]; limit?: number; offset?: string | null },
    { signal }: AsanaCallOptions = {},
  ): Promise<AsanaPage> {
    const query: Record<string, string> = {
      project: projectGid,
      modified_since: since.toISOString(),
      limit: String(limit),
    };
    if (optFields?.length) query.opt_fields = optFields.join(',');
    if (offset) query.offset = offset;
    return this.listPage('/tasks', query, signal);
  }

  /**
   * One page of a task's subtasks (`GET /tasks/{gid}/subtasks`, at most 100 with `opt_fields`),
   * and the next page's offset, null at the end. Offsets expire as `listProjectTasks`' do.
   */
  async listSubtasks(taskGid: string, page: ListPageOptions, { signal }: AsanaCallOptions = {}): Promise<AsanaPage> {
    return this.listPage(`/tasks/${encodeURIComponent(taskGid)}/subtasks`, pageQuery(page), signal);
  }

  /**
   * One page of a task's stories, oldest first (`GET /tasks/{gid}/stories`, at most 100 with
   * `opt_fields`), and the next page's offset, null at the end. Stories carry no `modified_at`.
   */
  async listTaskStories(taskGid: string, page: ListPageOptions, { signal }: AsanaCallOptions = {}): Promise<AsanaPage> {
    return this.listPage(`/tasks/${encodeURIComponent(taskGid)}/stories`, pageQuery(page), signal);
  }

  /**
   * One page of a workspace's projects, archived ones included (`GET /projects?workspace=`, at
   * most 100 with `opt_fields`), and the next page's offset, null at the end.
   */
  async listWorkspaceProjects(
    workspaceGid: string,
    page: ListPageOptions,
    { signal }: AsanaCallOptions = {},
  ): Promise<AsanaPage> {
    return this.listPage('/projects', { workspace: workspaceGid, ...pageQuery(page) }, signal);
  }

  private async listPage(path: string, query: Record<string, string>, signal?: AbortSignal): Promise<AsanaPage> {
    const body = await this.request<{ data?: unknown; next_page?: { offset?: unknown } | null }>(
      'GET',
      path,
      query,
      undefined,
      signal,
    );
    if (!Array.isArray(body.data)) {
      throw new AsanaApiError('MALFORMED_RESPONSE', `GET ${path}: the answer has no data array`, 200);
    }
    const next = body.next_page?.offset;
    return { data: body.data as AsanaResource[], nextOffset: typeof next === 'string' && next !== '' ? next : null };
  }

  /** Registers a webhook. Asana handshakes with the target before this resolves. */
  async createWebhook(resource: string, target: string, filters?: AsanaWebhookFilter[]): Promise<CreatedWebhook> {
    const body = await this.request<{ data: AsanaWebhook; 'X-Hook-Secret'?: string }>('POST', '/webhooks', undefined, {
      data: { resource, target, ...(filters ? { filters } : {}) },
    });
    const secret = body['X-Hook-Secret'];
    if (typeof secret !== 'string') {
      throw new AsanaApiError(
        'MALFORMED_RESPONSE',
        'the webhook was created but Asana returned no X-Hook-Secret',
        201,
        false,
      );
    }
    return { webhook: body.data, secret };
  }

  /**
   * A webhook as Asana reports it (its health: `last_success_at`, `last_failure_at`,
   * `delivery_retry_count`, `failure_deletion_timestamp`), or null once Asana deleted it (404).
   */
  async getWebhook(gid: string, { signal }: AsanaCallOptions = {}): Promise<AsanaWebhook | null> {
    const body = await nullIfNotVisible(
      this.request<{ data: AsanaWebhook }>('GET', `/webhooks/${encodeURIComponent(gid)}`, undefined, undefined, signal),
    );
    return body?.data ?? null;
  }

  /** Every webhook of a workspace (`GET /webhooks?workspace=`, compact, all pages). */
  async listWebhooks(workspaceGid: string, { signal }: AsanaCallOptions = {}): Promise<AsanaWebhookCompact[]> {
    const webhooks: AsanaWebhookCompact[] = [];
    let offset: string | undefined;
    do {
      const query: Record<string, string> = { workspace: workspaceGid, limit: '100' };
      if (offset) query.offset = offset;
      const body = await this.request<{ data?: unknown; next_page?: { offset?: unknown } | null }>(
        'GET',
        '/webhooks',
        query,
        undefined,
        signal,
      );
      if (!Array.isArray(body.data)) {
        throw new AsanaApiError('MALFORMED_RESPONSE', 'GET /webhooks: the answer has no data array', 200);
      }
      webhooks.push(...(body.data as AsanaWebhookCompact[]));
      const next = body.next_page?.offset;
      offset = typeof next === 'string' && next !== '' ? next : undefined;
    } while (offset);
    return webhooks;
  }

  async deleteWebhook(gid: string): Promise<void> {
    await this.request('DELETE', `/webhooks/${encodeURIComponent(gid)}`);
  }

  private async request<T>(
    method: string,
    path: string,
    query?: Record<string, string>,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    return (await this.exchange<T>(method, path, query, body, signal)).body;
  }

  /** One request; a status in `answers` is returned with its JSON body instead of thrown. */
  private async exchange<T>(
    method: string,
    path: string,
    query?: Record<string, string>,
    body?: unknown,
    signal?: AbortSignal,
    answers: readonly number[] = [],
  ): Promise<{ status: number; body: T }> {
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
    if (signal?.aborted) throw abortedError(`${method} ${path}`, signal);
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    let response: Dispatcher.ResponseData;
    try {
      // undici's own request API: the client fetch is built on, without the WHATWG Request,
      // Headers, Response and stream objects around every call (about half the CPU per call).
      response = await request(url, {
        dispatcher: ASANA_DISPATCHER,
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
      });
    } catch (cause) {
      if (signal?.aborted) throw abortedError(`${method} ${path}`, signal);
      throw new AsanaApiError('UNAVAILABLE', `${method} ${path}: ${String(cause)}`, null, true, null, { cause });
    }
    const status = response.statusCode;
    let text: string;
    try {
      text = await response.body.text();
    } catch (cause) {
      // The body was cut off: by our signal, or by the timeout or the connection, which is an outage.
      if (signal?.aborted) throw abortedError(`${method} ${path}`, signal);
      const message = `${method} ${path} → ${status}: the body was cut off: ${String(cause)}`;
      throw new AsanaApiError('UNAVAILABLE', message, status, true, null, { cause });
    }
    if ((status < 200 || status > 299) && !answers.includes(status)) {
      throw asanaErrorForStatus(
        status,
        `${method} ${path} → ${status}: ${errorMessages(text)}`,
        headerValue(response.headers['retry-after']),
      );
    }
    try {
      const parsed = secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' }) as T;
      return { status, body: parsed };
    } catch (cause) {
      throw new AsanaApiError('MALFORMED_RESPONSE', `${method} ${path}: response is not JSON`, status, true, null, {
        cause,
      });
    }
  }
}

/** A response header's value; a header sent more than once counts by its first value. */
function headerValue(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/** Asana's error bodies: `{"errors": [{"message": ...}]}`. */
function errorMessages(text: string): string {
  try {
    const parsed = JSON.parse(text) as { errors?: { message?: string }[] };
    const messages = (parsed.errors ?? []).map((e) => e.message).filter(Boolean);
    if (messages.length > 0) return messages.join('; ');
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 200);
}
