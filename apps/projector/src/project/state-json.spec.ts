import type { AsanaResource } from '@asana-stream/asana';
import { stateJsonOnce, stringifyState } from './state-json';

describe('stringifyState', () => {
  it('is JSON.stringify, null included', () => {
    const state: AsanaResource = { gid: '1', resource_type: 'task', name: 'a "b"\n' };
    expect(stringifyState(state)).toBe(JSON.stringify(state));
    expect(stringifyState(null)).toBe('null');
  });
});

describe('stateJsonOnce', () => {
  afterEach(() => jest.restoreAllMocks());

  it("gives each state's JSON.stringify, and null as null", () => {
    const stateJson = stateJsonOnce();
    const state: AsanaResource = { gid: '1', resource_type: 'task', name: 'Tâche 🚀', tags: [{ gid: '2' }] };
    expect(stateJson(state)).toBe(JSON.stringify(state));
    expect(stateJson(null)).toBe('null');
  });

  it('serializes one state object once however often it is asked, each other object on its own', () => {
    const stringify = jest.spyOn(JSON, 'stringify');
    const stateJson = stateJsonOnce();
    const state: AsanaResource = { gid: '1', name: 'a' };
    const twin: AsanaResource = { gid: '1', name: 'a' };
    expect([stateJson(state), stateJson(state), stateJson(twin), stateJson(state)]).toEqual(
      Array.from({ length: 4 }, () => '{"gid":"1","name":"a"}'),
    );
    expect(stringify.mock.calls.map(([value]) => value as unknown)).toEqual([state, twin]);
  });

  it('keeps what it knows to itself: a second one serializes again', () => {
    const stringify = jest.spyOn(JSON, 'stringify');
    const state: AsanaResource = { gid: '1' };
    stateJsonOnce()(state);
    stateJsonOnce()(state);
    expect(stringify).toHaveBeenCalledTimes(2);
  });
});
