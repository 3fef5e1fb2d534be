import type { AsanaResource } from '@asana-stream/asana';

/** A state's JSON text, as `JSON.stringify` writes it (`null` for no state). */
export type StateJson = (state: AsanaResource | null) => string;

/** `JSON.stringify`, for one state at a time. */
export const stringifyState: StateJson = (state) => JSON.stringify(state);

/**
 * `JSON.stringify` of states, each state object serialized once however often it is asked for:
 * a batch checks a state's text, then stores it in its row and again inside its change. For one
 * batch, whose states nothing changes while it is applied.
 */
export function stateJsonOnce(): StateJson {
  const known = new Map<AsanaResource, string>();
  return (state) => {
    if (state === null) return 'null';
    let json = known.get(state);
    if (json === undefined) {
      json = JSON.stringify(state);
      known.set(state, json);
    }
    return json;
  };
}
