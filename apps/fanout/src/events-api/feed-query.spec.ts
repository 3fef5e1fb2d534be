import { encodeCursor } from './feed-cursor';
import { EventsApiError } from './events-api.errors';
import { DEFAULT_LIMIT, parseFeedQuery, routeToRead, typesToRead } from './feed-query';

const LIMITS = { maxLimit: 1000, maxWaitSeconds: 30 };

function refusal(run: () => unknown): { code: string; status: number; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof EventsApiError) return { code: error.code, status: error.status, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseFeedQuery', () => {
  it('starts at the oldest kept change, 100 a page, every type, no wait, by default', () => {
    expect(parseFeedQuery({}, LIMITS)).toEqual({
      start: { kind: 'oldest' },
      limit: DEFAULT_LIMIT,
      types: null,
      route: null,
      waitSeconds: 0,
    });
  });

  it('keeps the default page within a lower maximum', () => {
    expect(parseFeedQuery({}, { maxLimit: 20, maxWaitSeconds: 1 }).limit).toBe(20);
  });

  it('reads a cursor, a limit, types and a wait', () => {
    expect(
      parseFeedQuery({ after: encodeCursor(41n), limit: '5', types: 'task, project,task', wait: '30' }, LIMITS),
    ).toEqual({
      start: { kind: 'cursor', position: 41n },
      limit: 5,
      types: ['task', 'project'],
      route: null,
      waitSeconds: 30,
    });
  });

  it('reads a route', () => {
    expect(parseFeedQuery({ route: 'billing.tasks-1' }, LIMITS).route).toBe('billing.tasks-1');
  });

  it('reads a time', () => {
    expect(parseFeedQuery({ since: '2026-12-01T08:00:00.250+01:00' }, LIMITS).start).toEqual({
      kind: 'since',
      since: new Date('2026-12-01T07:00:00.250Z'),
    });
  });

  it("takes SSE's Last-Event-ID as the cursor, over `after`", () => {
    expect(parseFeedQuery({ after: encodeCursor(1n) }, LIMITS, encodeCursor(9n)).start).toEqual({
      kind: 'cursor',
      position: 9n,
    });
  });

  it.each([
    ['an unknown parameter', { from: '1' }, 'INVALID_QUERY', 'unknown parameter from'],
    ['a repeated parameter', { limit: ['1', '2'] }, 'INVALID_QUERY', 'limit may be given once'],
    ['a cursor we did not give', { after: '17' }, 'INVALID_CURSOR', 'not a cursor'],
    ['after and since', { after: encodeCursor(1n), since: '2026-12-01T00:00:00Z' }, 'INVALID_QUERY', 'not both'],
    ['a date without a time', { since: '2026-12-01' }, 'INVALID_QUERY', 'ISO 8601'],
    ['an impossible time', { since: '2026-13-45T00:00:00Z' }, 'INVALID_QUERY', 'ISO 8601'],
    ['limit 0', { limit: '0' }, 'INVALID_QUERY', 'limit must be an integer from 1 to 1000'],
    ['limit over the maximum', { limit: '1001' }, 'INVALID_QUERY', 'from 1 to 1000'],
    ['a fractional limit', { limit: '2.5' }, 'INVALID_QUERY', 'limit must be an integer'],
    ['a negative wait', { wait: '-1' }, 'INVALID_QUERY', 'wait must be an integer from 0 to 30'],
    ['a wait over the maximum', { wait: '31' }, 'INVALID_QUERY', 'from 0 to 30'],
    ['an empty types', { types: '' }, 'INVALID_QUERY', 'types must be resource types'],
    ['a type with capitals', { types: 'Task' }, 'INVALID_QUERY', 'types must be resource types'],
    ['a route that is no route name', { route: 'Billing Tasks' }, 'INVALID_QUERY', "route must be a route's name"],
    ['two routes', { route: ['a', 'b'] }, 'INVALID_QUERY', 'route may be given once'],
  ])('refuses %s with a 400 naming it', (_name, query, code, message) => {
    const answer = refusal(() => parseFeedQuery(query, LIMITS));
    expect(answer).toMatchObject({ code, status: 400 });
    expect(answer.message).toContain(message);
  });
});

describe('typesToRead', () => {
  it.each([
    [null, null, null],
    [['task'], null, ['task']],
    [null, ['project'], ['project']],
    [['project'], ['project', 'task'], ['project']],
  ])('asked %j, granted %j: reads %j', (asked, granted, reads) => {
    expect(typesToRead(asked, granted)).toEqual(reads);
  });

  it('refuses (403) a type outside the grant, naming it', () => {
    const answer = refusal(() => typesToRead(['task', 'story'], ['task']));
    expect(answer).toMatchObject({ code: 'FORBIDDEN_TYPES', status: 403 });
    expect(answer.message).toContain('not story');
  });
});

describe('routeToRead', () => {
  it.each([
    [null, null, null],
    ['billing', null, 'billing'],
    ['billing', ['billing', 'ops'], 'billing'],
  ])('asked %j, granted %j: reads %j', (asked, granted, reads) => {
    expect(routeToRead(asked, granted)).toEqual(reads);
  });

  it('refuses (403) another route, or none, to a token limited to routes', () => {
    const other = refusal(() => routeToRead('ops', ['billing']));
    expect(other).toMatchObject({ code: 'FORBIDDEN_ROUTE', status: 403 });
    expect(other.message).toContain('route=billing only, not route=ops');
    const none = refusal(() => routeToRead(null, ['billing', 'ops']));
    expect(none).toMatchObject({ code: 'FORBIDDEN_ROUTE', status: 403 });
    expect(none.message).toContain('route=billing or route=ops only');
  });
});
