import { asanaErrorForStatus } from './asana-api.errors';

describe('asanaErrorForStatus', () => {
  it.each([
    [404, 'NOT_VISIBLE', false],
    [403, 'NOT_VISIBLE', false],
    [429, 'RATE_LIMITED', true],
    [401, 'UNAUTHORIZED', true],
    [400, 'REJECTED', false],
    [402, 'REJECTED', false],
    [451, 'REJECTED', false],
    [500, 'UNAVAILABLE', true],
    [502, 'UNAVAILABLE', true],
    [503, 'UNAVAILABLE', true],
    [504, 'UNAVAILABLE', true],
  ])('classifies %i as %s (retriable: %s)', (status, code, retriable) => {
    const error = asanaErrorForStatus(status, 'm', null);
    expect(error.code).toBe(code);
    expect(error.retriable).toBe(retriable);
    expect(error.status).toBe(status);
  });

  it('reads Retry-After seconds on a 429', () => {
    expect(asanaErrorForStatus(429, 'm', '30').retryAfterMs).toBe(30_000);
  });

  it.each([[null], ['soon'], ['-5'], ['']])('leaves retryAfterMs empty for an unusable Retry-After %p', (header) => {
    expect(asanaErrorForStatus(429, 'm', header).retryAfterMs).toBeNull();
  });
});
