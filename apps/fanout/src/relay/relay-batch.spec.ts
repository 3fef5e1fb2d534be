import { AsanaStreamError } from '@asana-stream/errors';
import {
  changeMessage,
  changeValue,
  failureRecord,
  groupByGid,
  mayBeTheRows,
  publishBatch,
  type ClaimedRow,
} from './relay-batch';

const row = (id: number, gid: string, attempts = 0): ClaimedRow => ({
  id: String(id),
  gid,
  type: 'task',
  change: JSON.stringify({ gid, version: id }),
  traceparent: null,
  attempts,
});

const tooLarge = (retriable = false) =>
  new AsanaStreamError('MESSAGE_TOO_LARGE', 'a message is larger than Kafka accepts', { retriable });
const unavailable = () => new AsanaStreamError('KAFKA_UNAVAILABLE', 'no broker answers');

/** A publisher that refuses any call holding one of `refused`, and records every call. */
function fakePublisher(refused: Record<string, () => Error>) {
  const calls: string[][] = [];
  const publish = (rows: ClaimedRow[]) => {
    calls.push(rows.map((r) => r.id));
    const bad = rows.find((r) => refused[r.id]);
    return bad ? Promise.reject(refused[bad.id]()) : Promise.resolve();
  };
  return { calls, publish };
}

describe('changeValue', () => {
  it('adds the row id as changeId to the stored change, as JSON', () => {
    const value = changeValue('{"gid": "1", "state": {"name": "x"}, "version": 2}', '42');
    expect(JSON.parse(value)).toEqual({ gid: '1', state: { name: 'x' }, version: 2, changeId: '42' });
  });

  it('handles an empty object, surrounding space, and a stored changeId (the row id wins)', () => {
    expect(JSON.parse(changeValue(' {} ', '7'))).toEqual({ changeId: '7' });
    expect(JSON.parse(changeValue('{"changeId": "old"}', '7'))).toEqual({ changeId: '7' });
  });

  it('refuses an id that is not an integer, so nothing can be spliced into the JSON', () => {
    expect(() => changeValue('{}', '1", "x": "y')).toThrow(AsanaStreamError);
  });

  it('keys the message by gid', () => {
    expect(changeMessage(row(3, 'g1'))).toEqual({ key: 'g1', value: '{"gid":"g1","version":3, "changeId": "3"}' });
  });
});

describe('groupByGid', () => {
  it('keeps each gid’s rows in order and orders gids by their first row', () => {
    const groups = groupByGid([row(1, 'a'), row(2, 'b'), row(3, 'a'), row(4, 'c'), row(5, 'b')]);
    expect(groups.map((g) => g.map((r) => r.id))).toEqual([['1', '3'], ['2', '5'], ['4']]);
  });
});

describe('mayBeTheRows', () => {
  it('is true for refusals of a message and for errors nothing recognised, false for a dependency', () => {
    expect(mayBeTheRows(tooLarge())).toBe(true);
    expect(mayBeTheRows(tooLarge(true))).toBe(true);
    expect(mayBeTheRows(new AsanaStreamError('UNKNOWN', '?'))).toBe(true);
    expect(mayBeTheRows(unavailable())).toBe(false);
    expect(mayBeTheRows(new AsanaStreamError('PRODUCER_FENCED', 'fenced'))).toBe(false);
  });
});

describe('publishBatch', () => {
  it('publishes the whole batch in one call when Kafka takes it', async () => {
    const { calls, publish } = fakePublisher({});
    const rows = [row(1, 'a'), row(2, 'b'), row(3, 'a')];
    const outcome = await publishBatch(rows, publish);
    expect(calls).toEqual([['1', '2', '3']]);
    expect(outcome).toEqual({ published: rows, failed: [] });
  });

  it('finds a refused row by splitting the batch: its gid stops there, every other row is published', async () => {
    const { calls, publish } = fakePublisher({ '5': () => tooLarge() });
    const rows = [
      row(1, 'a'),
      row(2, 'b'),
      row(3, 'c'),
      row(4, 'd'),
      row(5, 'c'),
      row(6, 'c'),
      row(7, 'e'),
      row(8, 'a'),
    ];
    const outcome = await publishBatch(rows, publish);
    expect(outcome.failed.map((f) => [f.row.id, f.error.code])).toEqual([['5', 'MESSAGE_TOO_LARGE']]);
    expect(outcome.published.map((r) => r.id).sort()).toEqual(['1', '2', '3', '4', '7', '8']);
    expect(outcome.stoppedBy).toBeUndefined();
    // 6 (behind the refused 5) is only ever sent behind 5, in calls that fail; gid c stays in order.
    for (const call of calls.filter((c) => c.includes('6'))) expect(call).toContain('5');
    for (const call of calls) {
      const ofC = call.filter((id) => ['3', '5', '6'].includes(id));
      expect(ofC).toEqual([...ofC].sort());
    }
    // Far fewer calls than one per row.
    expect(calls.length).toBeLessThan(rows.length);
  });

  it('reports one refused row per gid, whatever the number of refused gids', async () => {
    const { publish } = fakePublisher({ '1': () => tooLarge(), '4': () => tooLarge(), '3': () => tooLarge() });
    const outcome = await publishBatch([row(1, 'a'), row(2, 'a'), row(3, 'b'), row(4, 'c'), row(5, 'd')], publish);
    expect(outcome.failed.map((f) => f.row.id).sort()).toEqual(['1', '3', '4']);
    expect(outcome.published.map((r) => r.id)).toEqual(['5']);
  });

  it('publishes nothing and stops when Kafka is unavailable', async () => {
    const { calls, publish } = fakePublisher({ '1': unavailable, '2': unavailable });
    const outcome = await publishBatch([row(1, 'a'), row(2, 'b')], publish);
    expect(outcome).toEqual({
      published: [],
      failed: [],
      stoppedBy: expect.objectContaining({ code: 'KAFKA_UNAVAILABLE' }),
    });
    expect(calls).toHaveLength(1);
  });

  it('keeps what was published when Kafka goes away while the batch is split', async () => {
    let calls = 0;
    const publish = () => {
      calls++;
      if (calls === 1) return Promise.reject(tooLarge());
      if (calls === 2) return Promise.resolve(); // the first half
      return Promise.reject(unavailable());
    };
    const outcome = await publishBatch([row(1, 'a'), row(2, 'b'), row(3, 'c'), row(4, 'd')], publish);
    expect(outcome.published.map((r) => r.id)).toEqual(['1', '2']);
    expect(outcome.failed).toEqual([]);
    expect(outcome.stoppedBy?.code).toBe('KAFKA_UNAVAILABLE');
  });
});

describe('failureRecord', () => {
  it('parks at once a row Kafka refused alone', () => {
    expect(failureRecord({ row: row(1, 'a'), error: tooLarge() }, 5)).toEqual({
      id: '1',
      attempts: 1,
      lastError: 'MESSAGE_TOO_LARGE: a message is larger than Kafka accepts',
      park: true,
    });
  });

  it('counts other failures and parks once the attempts are spent', () => {
    const unknown = new AsanaStreamError('UNKNOWN', 'something odd');
    expect(failureRecord({ row: row(1, 'a', 0), error: unknown }, 3).park).toBe(false);
    expect(failureRecord({ row: row(1, 'a', 1), error: tooLarge(true) }, 3)).toMatchObject({
      attempts: 2,
      park: false,
    });
    expect(failureRecord({ row: row(1, 'a', 2), error: unknown }, 3)).toMatchObject({ attempts: 3, park: true });
  });
});
