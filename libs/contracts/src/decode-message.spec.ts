import { isAsanaStreamError, type AsanaStreamError } from '@asana-stream/errors';
import { asanaTaskEvent } from '@asana-stream/testing';
import { decodeMessage, messageDecoder, parseMessage } from './decode-message';
import type { AsanaEventEnvelope, ResourceStateMessage } from './messages';

const envelope = (overrides: Partial<AsanaEventEnvelope> = {}): AsanaEventEnvelope => ({
  eventId: 'e'.repeat(64),
  source: 'webhook',
  subscriptionId: 'sub-1',
  deliveryId: 'd'.repeat(64),
  receivedAt: '2026-11-22T10:00:01.000Z',
  event: asanaTaskEvent(),
  ...overrides,
});

const state = (overrides: Partial<ResourceStateMessage> = {}): ResourceStateMessage => ({
  gid: '1200',
  type: 'task',
  version: 1_795_000_000_000,
  versionSource: 'modified_at',
  deleted: false,
  state: { gid: '1200', resource_type: 'task', name: 'a task', modified_at: '2026-11-22T10:00:00.000Z' },
  fetchedAt: '2026-11-22T10:00:02.000Z',
  causes: ['e'.repeat(64)],
  ...overrides,
});

const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

/** The INVALID_MESSAGE `work` throws, or a failure when it throws nothing or something else. */
function rejection(work: () => unknown): AsanaStreamError {
  try {
    work();
  } catch (error) {
    if (isAsanaStreamError(error) && error.code === 'INVALID_MESSAGE' && error.disposition === 'dead-letter') {
      return error;
    }
    throw error;
  }
  throw new Error('decoded without complaint');
}

describe('decodeMessage', () => {
  it('returns an event envelope that fits its contract as parsed, fields Asana may add kept', () => {
    const value = envelope({ event: { ...asanaTaskEvent(), change: { field: 'notes', action: 'changed' } } });
    const withExtra = { ...value, event: { ...value.event, new_asana_field: { x: 1 } } };
    expect(decodeMessage('asana.events', bytes(withExtra))).toEqual(withExtra);
  });

  it('returns a state and a tombstone that fit their contract', () => {
    expect(decodeMessage('asana.state', bytes(state()))).toEqual(state());
    const tombstone = state({ deleted: true, state: null, versionSource: 'fetched_at' });
    expect(decodeMessage('asana.state', bytes(tombstone))).toEqual(tombstone);
  });

  it('refuses what is not JSON, saying where without quoting the value', () => {
    const error = rejection(() => decodeMessage('asana.events', bytes('{"eventId": "secret-ish", oops')));
    expect(error.message).toMatch(/^asana\.events: the message is not acceptable JSON \(at position \d+\)$/);
    expect(error.message).not.toContain('secret-ish');
  });

  it('refuses a __proto__ or constructor key anywhere, as secure-json-parse does', () => {
    const poisoned = '{"eventId":"x","event":{"resource":{"__proto__":{"isAdmin":true}}}}';
    expect(rejection(() => decodeMessage('asana.events', bytes(poisoned))).message).toContain(
      'forbidden prototype property',
    );
    expect(rejection(() => parseMessage('asana.deliveries', bytes('{"constructor":{"prototype":{}}}'))).code).toBe(
      'INVALID_MESSAGE',
    );
  });

  it('refuses a __proto__ key spelled with \\u escapes, and takes the words in values as they are', () => {
    const escaped = '{"__pr\\u006fto__":{"isAdmin":true}}';
    expect(rejection(() => parseMessage('asana.deliveries', bytes(escaped))).message).toContain(
      'forbidden prototype property',
    );
    const words = { note: 'a prototype with a constructor', other: 'caf\u00e9' };
    expect(parseMessage('asana.deliveries', bytes(JSON.stringify(words).replace('é', '\\u00e9')))).toEqual(words);
    expect(parseMessage('asana.deliveries', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes({ a: 1 })]))).toEqual(
      {
        a: 1,
      },
    );
  });

  it('refuses a record without a value, and a value that is not an object', () => {
    expect(rejection(() => decodeMessage('asana.state', null)).message).toBe('the asana.state record has no value');
    expect(rejection(() => decodeMessage('asana.state', bytes('[1,2]'))).message).toBe(
      'asana.state: the value must be a JSON object (a ResourceStateMessage)',
    );
  });

  it('names each property that breaks the envelope contract, nested ones by their path', () => {
    const bad = envelope({
      source: 'carrier-pigeon' as never,
      event: asanaTaskEvent({ resource: { gid: 'abc', resource_type: 'task' } }),
    });
    const error = rejection(() => decodeMessage('asana.events', bytes(bad)));
    expect(error.message).toMatch(/^asana\.events: not a valid AsanaEventEnvelope: /);
    expect(error.message).toContain('source: must be one of webhook, events-api, resync');
    expect(error.message).toContain('event.resource.gid: must be a numeric string');
    expect(error.message).not.toContain('abc');
  });

  it('refuses an envelope without its event, and an event whose resource is not an object', () => {
    const { event: _event, ...withoutEvent } = envelope();
    expect(rejection(() => decodeMessage('asana.events', bytes(withoutEvent))).message).toContain('event:');
    const noResource = envelope({ event: { ...asanaTaskEvent(), resource: 'task-1200' as never } });
    expect(rejection(() => decodeMessage('asana.events', bytes(noResource))).message).toContain('event.resource:');
  });

  it('refuses a state whose version is not an integer, and a live state without its resource', () => {
    expect(rejection(() => decodeMessage('asana.state', bytes(state({ version: '17' as never })))).message).toContain(
      'version: must be an integer',
    );
    expect(rejection(() => decodeMessage('asana.state', bytes(state({ state: null })))).message).toContain(
      'state: must be an object (null only for a tombstone)',
    );
    expect(rejection(() => decodeMessage('asana.state', bytes(state({ causes: [7] as never })))).message).toContain(
      'causes.0: must be a string',
    );
  });

  it('names five problems and counts the rest, and lists the properties in its details', () => {
    const error = rejection(() => decodeMessage('asana.state', bytes({ gid: 'x', causes: 'no' })));
    expect(error.message).toBe(
      'asana.state: not a valid ResourceStateMessage: type: is required; version: is required; versionSource: is required; ' +
        'deleted: is required; state: is required (and 3 more)',
    );
    expect(error.details).toEqual({
      properties: ['type', 'version', 'versionSource', 'deleted', 'state', 'fetchedAt', 'gid', 'causes'],
    });
  });

  it("never walks Asana's free-form state: any object passes", () => {
    const odd = state({ state: { gid: '1200', anything: [{ deeply: { nested: null } }], modified_at: 42 as never } });
    expect(decodeMessage('asana.state', bytes(odd))).toEqual(odd);
  });

  it('only parses topics without a contract', () => {
    expect(decodeMessage('asana.deliveries', bytes({ anything: true }))).toEqual({ anything: true });
  });
});

describe('messageDecoder', () => {
  it("is decodeMessage bound to one topic, for the consumer transport's options", () => {
    const decode = messageDecoder('asana.state');
    expect(decode(bytes(state()))).toEqual(state());
    expect(() => decode(bytes({}))).toThrow(/not a valid ResourceStateMessage/);
  });
});
