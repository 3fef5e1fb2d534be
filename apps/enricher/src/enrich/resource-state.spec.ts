import { asanaTaskEvent } from '@asana-stream/testing';
import { decideState } from './resource-state';

const requestedAt = new Date('2026-11-22T12:00:09.000Z');
const fetchedAt = new Date('2026-11-22T12:00:10.000Z');
const times = { requestedAt, fetchedAt };
const task = (modifiedAt: string) => ({ gid: '1200', name: 'Write docs', modified_at: modifiedAt });
const at = (iso: string) => Date.parse(iso);

describe('decideState', () => {
  it('publishes the fetched state, versioned by modified_at', () => {
    expect(decideState(asanaTaskEvent(), task('2026-11-22T12:00:00.000Z'), times)).toEqual({
      version: at('2026-11-22T12:00:00.000Z'),
      versionSource: 'modified_at',
      deleted: false,
      state: task('2026-11-22T12:00:00.000Z'),
    });
  });

  it('publishes a tombstone, versioned by the last ms before the request, when the API no longer shows the task', () => {
    expect(decideState(asanaTaskEvent(), null, times)).toEqual({
      version: requestedAt.getTime() - 1,
      versionSource: 'fetched_at',
      deleted: true,
      state: null,
    });
  });

  it('trusts a deleted event over an older state the API still returns', () => {
    const deleted = asanaTaskEvent({ action: 'deleted', created_at: '2026-11-22T12:00:05.000Z', change: undefined });
    expect(decideState(deleted, task('2026-11-22T12:00:00.000Z'), times)).toEqual({
      version: at('2026-11-22T12:00:05.000Z'),
      versionSource: 'deleted_event',
      deleted: true,
      state: null,
    });
  });

  it('lets the delete win a tie with the state it produced', () => {
    const deleted = asanaTaskEvent({ action: 'deleted', created_at: '2026-11-22T12:00:05.000Z', change: undefined });
    expect(decideState(deleted, task('2026-11-22T12:00:05.000Z'), times).deleted).toBe(true);
  });

  it('publishes a state modified after the delete (the task was undeleted since)', () => {
    const deleted = asanaTaskEvent({ action: 'deleted', created_at: '2026-11-22T12:00:05.000Z', change: undefined });
    expect(decideState(deleted, task('2026-11-22T12:00:07.000Z'), times)).toMatchObject({
      deleted: false,
      version: at('2026-11-22T12:00:07.000Z'),
    });
  });

  it('ignores the event time for every action but deleted', () => {
    const changed = asanaTaskEvent({ created_at: '2026-11-22T12:00:09.000Z' });
    expect(decideState(changed, task('2026-11-22T12:00:00.000Z'), times).deleted).toBe(false);
  });
});
