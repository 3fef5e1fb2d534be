import type { ResourceStateMessage } from '@asana-stream/contracts';
import { rejectionOf } from './check-state-message';
import { stateJsonOnce, stringifyState, type StateJson } from './state-json';

/** rejectionOf alone, and as a batch runs it, with the state's JSON made once for its writes too. */
const STATE_JSONS: [string, () => StateJson][] = [
  ['by itself', () => stringifyState],
  ["with the batch's state JSON", stateJsonOnce],
];

const live = (overrides: Partial<ResourceStateMessage> = {}): ResourceStateMessage => ({
  gid: '1200',
  type: 'task',
  version: 1_763_856_000_000,
  versionSource: 'modified_at',
  deleted: false,
  state: { gid: '1200', resource_type: 'task', name: 'Write docs' },
  fetchedAt: '2026-11-22T10:00:00.005Z',
  causes: ['e1'],
  ...overrides,
});

const tombstone = (overrides: Partial<ResourceStateMessage> = {}): ResourceStateMessage =>
  live({ versionSource: 'fetched_at', deleted: true, state: null, ...overrides });

describe('rejectionOf', () => {
  describe.each(STATE_JSONS)('accepts (%s)', (_how, stateJson) => {
    it.each<[string, ResourceStateMessage]>([
      ['a live state', live()],
      ['a tombstone without state', tombstone()],
      ['a tombstone that still carries a state', tombstone({ state: { gid: '1200', name: 'Gone' } })],
      ['version 0', live({ version: 0 })],
      ['the largest safe version', live({ version: Number.MAX_SAFE_INTEGER })],
      ['a state without a gid field (opt_fields)', live({ state: { name: 'x' } as never })],
      ['any type, even one named like an Object property', live({ type: 'constructor' })],
      ['a paired surrogate (an emoji)', live({ state: { gid: '1200', name: 'ship it \u{1F680}' } })],
      ['an escaped backslash followed by u0000 as text', live({ state: { gid: '1200', name: '\\u0000' } })],
      ['text that merely mentions d800', live({ state: { gid: '1200', name: 'ud800 \\ud800' } })],
      ['control characters other than NUL', live({ state: { gid: '1200', name: 'a\u0001b\tc\n' } })],
    ])('%s', (_name, message) => {
      expect(rejectionOf(message, stateJson())).toBeNull();
    });
  });

  describe('rejects as INVALID_MESSAGE (dead-letter)', () => {
    it.each<[string, ResourceStateMessage]>([
      ['a negative version', live({ version: -1 })],
      ['a fractional version', live({ version: 1.5 })],
      ['a version beyond 2^53', live({ version: 2 ** 60 })],
      ['a NaN version', live({ version: Number.NaN })],
      ['an infinite version', live({ version: Number.POSITIVE_INFINITY })],
      ['a live message without state', live({ state: null })],
      ['a state that is an array', live({ state: [] as never })],
      ['a state that is a string', live({ state: 'task' as never })],
      ["another resource's state", live({ state: { gid: '999', name: 'other' } })],
      ["a tombstone carrying another resource's state", tombstone({ state: { gid: '999' } })],
      ['a state gid of another type', live({ state: { gid: 1200 } as never })],
    ])('%s', (_name, message) => {
      const error = rejectionOf(message);
      expect(error).toMatchObject({ code: 'INVALID_MESSAGE', disposition: 'dead-letter' });
      expect(error?.details).toEqual({ gid: message.gid, version: String(message.version) });
    });
  });

  describe.each(STATE_JSONS)('rejects text Postgres refuses as DATA_REJECTED (dead-letter) (%s)', (_how, stateJson) => {
    it.each<[string, ResourceStateMessage]>([
      ['NUL in a state field', live({ state: { gid: '1200', name: 'a\u0000b' } })],
      ['NUL at the start of a field', live({ state: { gid: '1200', name: '\u0000' } })],
      ['NUL after an escaped backslash', live({ state: { gid: '1200', name: '\\\u0000' } })],
      ['NUL in a nested field', live({ state: { gid: '1200', notes: [{ text: 'x\u0000' }] } })],
      ['NUL in a key', live({ state: { gid: '1200', ['k\u0000']: 1 } })],
      ['NUL in a cause', live({ causes: ['e\u0000'] })],
      ['NUL in the type', live({ type: 'task\u0000' })],
      ['a lone high surrogate', live({ state: { gid: '1200', name: 'a\ud800b' } })],
      ['a lone low surrogate', live({ state: { gid: '1200', name: '\udc00' } })],
      ['a high surrogate at the end', live({ state: { gid: '1200', name: 'x\udbff' } })],
      ['two high surrogates', live({ state: { gid: '1200', name: '\ud800\ud800' } })],
      ['a lone surrogate in the event time', live({ eventAt: '2026-11-22\ud800' })],
      ['NUL in the fetch time', live({ fetchedAt: '\u0000' })],
    ])('%s', (_name, message) => {
      expect(rejectionOf(message, stateJson())).toMatchObject({ code: 'DATA_REJECTED', disposition: 'dead-letter' });
    });
  });

  it('checks the version before anything else', () => {
    expect(rejectionOf(live({ version: -1, state: { gid: '1200', name: '\u0000' } }))?.code).toBe('INVALID_MESSAGE');
  });

  it('never puts the state into its message', () => {
    const error = rejectionOf(live({ state: { gid: '1200', name: 'secret\u0000' } }));
    expect(error?.message).not.toContain('secret');
    expect(JSON.stringify(error)).not.toContain('secret');
  });

  it("reads the state's text from the batch's JSON of it", () => {
    const message = live();
    const stateJson = jest.fn(stringifyState);
    rejectionOf(message, stateJson);
    expect(stateJson).toHaveBeenCalledWith(message.state);
    // What the batch's JSON says is what is checked: text it would write with NUL is refused.
    expect(rejectionOf(message, () => '{"name":"\\u0000"}')?.code).toBe('DATA_REJECTED');
  });
});
