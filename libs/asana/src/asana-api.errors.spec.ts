import { AsanaStreamError, classifyError } from '@asana-stream/errors';
import { AsanaApiError, asanaErrorForStatus, isNotVisible, nullIfNotVisible } from './asana-api.errors';

describe('asanaErrorForStatus', () => {
  it.each([
    [404, 'NOT_VISIBLE', 'dead-letter'],
    [403, 'NOT_VISIBLE', 'dead-letter'],
    [429, 'RATE_LIMITED', 'retry'],
    [401, 'UNAUTHORIZED', 'halt'],
    [400, 'REJECTED', 'dead-letter'],
    [402, 'REJECTED', 'dead-letter'],
    [451, 'REJECTED', 'dead-letter'],
    [500, 'UNAVAILABLE', 'retry'],
    [502, 'UNAVAILABLE', 'retry'],
    [503, 'UNAVAILABLE', 'retry'],
    [504, 'UNAVAILABLE', 'retry'],
  ])('classifies %i as %s (%s)', (status, code, disposition) => {
    const error = asanaErrorForStatus(status, 'm', null);
    expect(error.code).toBe(code);
    expect(error.disposition).toBe(disposition);
    expect(error.retriable).toBe(disposition === 'retry');
    expect(error.status).toBe(status);
  });

  it('reads Retry-After seconds on a 429', () => {
    expect(asanaErrorForStatus(429, 'm', '30').retryAfterMs).toBe(30_000);
  });

  it.each([[null], ['soon'], ['-5'], ['']])('leaves retryAfterMs empty for an unusable Retry-After %p', (header) => {
    expect(asanaErrorForStatus(429, 'm', header).retryAfterMs).toBeNull();
  });
});

describe('AsanaApiError', () => {
  it('is an AsanaStreamError the classifier keeps as it is, with status and Retry-After in its log form', () => {
    const error = asanaErrorForStatus(429, 'GET /tasks/1 → 429: slow down', '2');
    expect(error).toBeInstanceOf(AsanaStreamError);
    expect(classifyError(error)).toBe(error);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'AsanaApiError',
      code: 'RATE_LIMITED',
      disposition: 'retry',
      retriable: true,
      message: 'GET /tasks/1 → 429: slow down',
      details: { status: 429, retryAfterMs: 2_000 },
    });
  });

  it('lets the thrower dead-letter a code that would retry, but never retry an UNAUTHORIZED', () => {
    expect(new AsanaApiError('MALFORMED_RESPONSE', 'no secret', 201, false).disposition).toBe('dead-letter');
    expect(new AsanaApiError('MALFORMED_RESPONSE', 'not JSON', 200).disposition).toBe('retry');
    expect(new AsanaApiError('UNAUTHORIZED', 'bad token', 401, true).disposition).toBe('halt');
  });

  it('keeps its cause', () => {
    const cause = new TypeError('fetch failed');
    expect(new AsanaApiError('UNAVAILABLE', 'GET /tasks/1: fetch failed', null, true, null, { cause }).cause).toBe(
      cause,
    );
  });
});

describe('isNotVisible and nullIfNotVisible', () => {
  const gone = [404, 403].map((status) => asanaErrorForStatus(status, 'gone', null));
  const others = [
    asanaErrorForStatus(429, 'slow down', '1'),
    asanaErrorForStatus(400, 'bad', null),
    asanaErrorForStatus(401, 'who', null),
    asanaErrorForStatus(503, 'down', null),
    new AsanaStreamError('NOT_VISIBLE', 'not from Asana'),
    new Error('NOT_VISIBLE'),
    'NOT_VISIBLE',
    null,
  ];

  it('knows a 404 or 403 from Asana, and nothing else', () => {
    expect(gone.map(isNotVisible)).toEqual([true, true]);
    expect(others.map(isNotVisible)).toEqual(others.map(() => false));
  });

  it("gives the call's value, null for an object Asana no longer shows, and rejects with any other failure", async () => {
    await expect(nullIfNotVisible(Promise.resolve({ gid: '1' }))).resolves.toEqual({ gid: '1' });
    for (const error of gone) await expect(nullIfNotVisible(Promise.reject(error))).resolves.toBeNull();
    const failures = others.filter((error) => error instanceof Error);
    for (const error of failures) await expect(nullIfNotVisible(Promise.reject(error))).rejects.toBe(error);
  });
});
