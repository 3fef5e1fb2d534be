import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAsanaStreamError } from '@asana-stream/errors';
import { waitFor } from '@asana-stream/testing';
import { AsanaApiError } from './asana-api.errors';
import { AsanaClient } from './asana-client';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A local HTTP server playing Asana: `handle` decides how (and whether) it answers. */
async function startServer(handle: Handler): Promise<{ baseUrl: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    handle(request, response);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/1.0`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

const neverAnswers: Handler = () => {};
const answersHalfABody: Handler = (_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.write('{"data": {"gid": "1", ');
};

/** Settles within `ms` or fails: "at once" means well before any timeout of the client. */
async function settledWithin<T>(ms: number, promise: Promise<T>): Promise<{ error?: unknown; value?: T }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_done, fail) => (timer = setTimeout(() => fail(new Error('still running')), ms)));
  try {
    return await Promise.race([promise.then((value) => ({ value })), late]);
  } catch (error) {
    if (error instanceof Error && error.message === 'still running') throw error;
    return { error };
  } finally {
    clearTimeout(timer);
  }
}

describe('AsanaClient cancellation', () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each([
    ['waiting for the answer', neverAnswers],
    ['reading the body', answersHalfABody],
  ])('ends a request at once with ABORTED when its signal is aborted while %s', async (_when, handle) => {
    const asana = (server = await startServer(handle));
    const client = new AsanaClient({ baseUrl: asana.baseUrl, token: 't', timeoutMs: 30_000 });
    const cancel = new AbortController();
    const fetching = client.getResource('task', '1', ['name'], { signal: cancel.signal });
    await waitFor('the request to reach the server', () => asana.requests.length > 0);
    // Time for the answer's headers to arrive, so the abort lands in the phase this case names
    // (either way it must end the call with ABORTED).
    await new Promise((done) => setTimeout(done, 50));

    cancel.abort();
    const { error } = await settledWithin(1_000, fetching);

    expect(isAsanaStreamError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ABORTED', disposition: 'retry', message: 'GET /tasks/1: cancelled' });
    // Not Asana's failure: the pacer must not pause every request for it.
    expect(error).not.toBeInstanceOf(AsanaApiError);
  });

  it('sends nothing when the signal was aborted before the call', async () => {
    server = await startServer(neverAnswers);
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });

    const { error } = await settledWithin(1_000, client.getResource('task', '1', [], { signal: AbortSignal.abort() }));

    expect(error).toMatchObject({ code: 'ABORTED' });
    expect(server.requests).toEqual([]);
  });

  it.each([
    ['no answer', neverAnswers],
    ['a body cut off', answersHalfABody],
  ])('still reports a timeout with %s as an outage (UNAVAILABLE), for the pacer to wait out', async (_what, handle) => {
    server = await startServer(handle);
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't', timeoutMs: 200 });

    const { error } = await settledWithin(
      2_000,
      client.getResource('task', '1', [], { signal: new AbortController().signal }),
    );

    expect(error).toBeInstanceOf(AsanaApiError);
    expect(error).toMatchObject({ code: 'UNAVAILABLE', disposition: 'retry' });
  });
});

describe('AsanaClient.getEvents', () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const answering =
    (status: number, body: unknown): Handler =>
    (_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
  const event = {
    user: { gid: '42', resource_type: 'user' },
    created_at: '2026-11-22T10:00:00.000Z',
    action: 'changed',
    resource: { gid: '1200', resource_type: 'task' },
    parent: null,
    change: { field: 'name', action: 'changed' },
  };

  it('asks for the resource without a token the first time, and takes the 412 as the token to start from', async () => {
    server = await startServer(answering(412, { errors: [{ message: 'Sync token invalid or too old.' }], sync: 's1' }));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(client.getEvents('77', null)).resolves.toEqual({ kind: 'expired', sync: 's1' });
    expect(server.requests).toEqual(['GET /api/1.0/events?resource=77']);
  });

  it('reads the events after a token, with the next token and whether more wait', async () => {
    server = await startServer(answering(200, { data: [event], sync: 's2', has_more: true }));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(client.getEvents('77', 's1')).resolves.toEqual({
      kind: 'events',
      events: [event],
      sync: 's2',
      hasMore: true,
    });
    expect(server.requests).toEqual(['GET /api/1.0/events?resource=77&sync=s1']);
  });

  it('reads no has_more as none', async () => {
    server = await startServer(answering(200, { data: [], sync: 's2' }));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(client.getEvents('77', 's1')).resolves.toMatchObject({ events: [], hasMore: false });
  });

  it.each([
    ['a 412 without a token', 412, { errors: [{ message: 'x' }] }],
    ['a 200 without a token', 200, { data: [] }],
    ['a 200 without data', 200, { sync: 's2' }],
    ['a body that is not JSON', 200, 'not json'],
  ])('refuses %s as a malformed answer', async (_label, status, body) => {
    server = await startServer(answering(status, body));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(client.getEvents('77', 's1')).rejects.toMatchObject({ code: 'MALFORMED_RESPONSE' });
  });

  it.each([
    [404, 'NOT_VISIBLE'],
    [429, 'RATE_LIMITED'],
    [400, 'REJECTED'],
    [503, 'UNAVAILABLE'],
  ])('fails a %s as every other call does (%s)', async (status, code) => {
    server = await startServer(answering(status, { errors: [{ message: 'no' }] }));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    const error: unknown = await client.getEvents('77', 's1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AsanaApiError);
    expect(error).toMatchObject({ code });
  });
});

describe('AsanaClient.listProjectTasks', () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const answering =
    (body: unknown, status = 200): Handler =>
    (_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };

  it('asks for a page with the fields and the offset, and gives the next offset', async () => {
    const tasks = [{ gid: '1', modified_at: '2026-11-22T10:00:00.000Z' }];
    server = await startServer(answering({ data: tasks, next_page: { offset: 'o2', path: '/x', uri: 'http://x' } }));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(
      client.listProjectTasks('77', { optFields: ['modified_at', 'resource_subtype'], offset: 'o1' }),
    ).resolves.toEqual({ data: tasks, nextOffset: 'o2' });
    expect(server.requests).toEqual([
      'GET /api/1.0/projects/77/tasks?limit=100&opt_fields=modified_at%2Cresource_subtype&offset=o1',
    ]);
  });

  it('ends at a null next_page', async () => {
    server = await startServer(answering({ data: [], next_page: null }));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(client.listProjectTasks('77', {})).resolves.toEqual({ data: [], nextOffset: null });
  });

  it('fails an expired offset (400) as REJECTED, and a body without data as malformed', async () => {
    server = await startServer(answering({ errors: [{ message: 'offset: Your pagination token has expired.' }] }, 400));
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(client.listProjectTasks('77', { offset: 'old' })).rejects.toMatchObject({ code: 'REJECTED' });
    await server.close();
    server = await startServer(answering({ next_page: null }));
    const other = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(other.listProjectTasks('77', {})).rejects.toMatchObject({ code: 'MALFORMED_RESPONSE' });
  });
});

describe('AsanaClient.listTasksModifiedSince', () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('asks GET /tasks for the project, the time, the fields and the offset, and gives the next offset', async () => {
    const tasks = [{ gid: '1', modified_at: '2026-11-22T10:00:00.000Z' }];
    server = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: tasks, next_page: { offset: 'o2', path: '/x', uri: 'http://x' } }));
    });
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    await expect(
      client.listTasksModifiedSince('77', new Date('2026-11-22T09:00:00Z'), {
        optFields: ['modified_at', 'resource_subtype'],
        offset: 'o1',
      }),
    ).resolves.toEqual({ data: tasks, nextOffset: 'o2' });
    expect(server.requests).toEqual([
      'GET /api/1.0/tasks?project=77&modified_since=2026-11-22T09%3A00%3A00.000Z&limit=100&opt_fields=modified_at%2Cresource_subtype&offset=o1',
    ]);
  });
});

describe('AsanaClient.listSubtasks, listTaskStories and listWorkspaceProjects', () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('ask Asana’s own routes for a page with the fields and the offset, and give the next offset', async () => {
    const items = [{ gid: '1', modified_at: '2026-11-22T10:00:00.000Z' }];
    server = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: items, next_page: { offset: 'o2', path: '/x', uri: 'http://x' } }));
    });
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });
    const page = { optFields: ['modified_at'], offset: 'o1' };
    for (const answer of [
      await client.listSubtasks('77', page),
      await client.listTaskStories('77', { optFields: ['created_at'] }),
      await client.listWorkspaceProjects('5', page),
    ]) {
      expect(answer).toEqual({ data: items, nextOffset: 'o2' });
    }
    expect(server.requests).toEqual([
      'GET /api/1.0/tasks/77/subtasks?limit=100&opt_fields=modified_at&offset=o1',
      'GET /api/1.0/tasks/77/stories?limit=100&opt_fields=created_at',
      'GET /api/1.0/projects?workspace=5&limit=100&opt_fields=modified_at&offset=o1',
    ]);
  });
});

describe('AsanaClient redirects', () => {
  let server: Awaited<ReturnType<typeof startServer>> | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('follows a redirect to the answer, with the token on the same origin', async () => {
    const authorizations: (string | undefined)[] = [];
    server = await startServer((request, response) => {
      authorizations.push(request.headers.authorization);
      if (request.url?.startsWith('/api/1.0/tasks/1?')) {
        response.writeHead(301, { location: '/api/1.0/tasks/2?opt_fields=name' }).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ data: { gid: '2', name: 'moved' } }));
    });
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });

    await expect(client.getResource('task', '1', ['name'])).resolves.toEqual({ gid: '2', name: 'moved' });

    expect(server.requests).toEqual(['GET /api/1.0/tasks/1?opt_fields=name', 'GET /api/1.0/tasks/2?opt_fields=name']);
    expect(authorizations).toEqual(['Bearer t', 'Bearer t']);
  });

  it('gives up on a redirect loop with an error, not a hang', async () => {
    server = await startServer((request, response) => {
      response.writeHead(302, { location: request.url }).end();
    });
    const client = new AsanaClient({ baseUrl: server.baseUrl, token: 't' });

    await expect(client.getResource('task', '1', ['name'])).rejects.toBeInstanceOf(AsanaApiError);
    expect(server.requests.length).toBeLessThanOrEqual(21);
  });
});
