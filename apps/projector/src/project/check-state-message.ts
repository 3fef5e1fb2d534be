import type { ResourceStateMessage } from '@asana-stream/contracts';
import { AsanaStreamError } from '@asana-stream/errors';
import { stringifyState, type StateJson } from './state-json';

/**
 * A JSON escape Postgres refuses in jsonb and text: NUL (`\u0000`), or a lone UTF-16 surrogate,
 * which `JSON.stringify` writes as an escape (a paired one it writes as the character itself).
 * Preceded by an even number of backslashes, so an escaped backslash followed by `u0000` is text.
 */
const REFUSED_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/**
 * Why the projection cannot take a state message that passed its topic's contract, or null when
 * it can. Checked before the batch's transaction, so one such message is dead-lettered without
 * failing the others (the contract's own checks ran in the transport's decoder already):
 *
 * - `INVALID_MESSAGE`: a version that is not a safe integer (versions are ms timestamps, compared
 *   as numbers and stored as bigint), a live message without a state, a state that is not an
 *   object, or a state whose `gid` is another resource's;
 * - `DATA_REJECTED`: text Postgres refuses (NUL, a lone surrogate) anywhere in what is stored.
 */
export function rejectionOf(
  message: ResourceStateMessage,
  stateJson: StateJson = stringifyState,
): AsanaStreamError | null {
  const where = { gid: message.gid, version: String(message.version) };
  if (!Number.isSafeInteger(message.version) || message.version < 0) {
    return invalid('the version is not a safe non-negative integer', where);
  }
  const state: unknown = message.state;
  if (state === null) {
    return message.deleted ? null : invalid('a live state message carries no state', where);
  }
  if (typeof state !== 'object' || Array.isArray(state)) return invalid('the state is not an object', where);
  const stateGid = (state as { gid?: unknown }).gid;
  if (stateGid !== undefined && stateGid !== message.gid) {
    return invalid("the state is another resource's (its gid differs from the message's)", where);
  }
  // The state's JSON (which the batch writes too) and the rest of the message's: an escape lies
  // within one string, so these two hold the refused ones JSON.stringify(message) would.
  if (refusedEscapeIn(stateJson(message.state)) || refusedEscapeIn(JSON.stringify({ ...message, state: null }))) {
    return new AsanaStreamError(
      'DATA_REJECTED',
      'asana.state: the message holds text Postgres refuses (NUL or a lone surrogate)',
      { details: where },
    );
  }
  return null;
}

/** Nearly every text has no `\u` escape at all: the regular expression, tried at every position, is then skipped. */
const refusedEscapeIn = (json: string): boolean => json.includes('\\u') && REFUSED_ESCAPE.test(json);

function invalid(reason: string, details: { gid: string; version: string }): AsanaStreamError {
  return new AsanaStreamError('INVALID_MESSAGE', `asana.state: not projectable: ${reason}`, { details });
}
