import type { ResourceStateMessage } from '@asana-stream/contracts';
import { decideProjection, type StoredProjection } from './version-guard';

const live = (version: number, name = 'Write docs'): ResourceStateMessage => ({
  gid: '1200',
  type: 'task',
  version,
  versionSource: 'modified_at',
  deleted: false,
  state: { gid: '1200', name, completed: false, modified_at: new Date(version).toISOString() },
  fetchedAt: new Date(version + 5).toISOString(),
  causes: ['e1'],
});
const tombstone = (version: number): ResourceStateMessage => ({
  ...live(version),
  versionSource: 'fetched_at',
  deleted: true,
  state: null,
});
const stored = (version: number, deleted = false, name = 'Write docs'): StoredProjection => ({
  version,
  deleted,
  state: live(version, name).state!,
});

describe('the projection version guard', () => {
  describe('given no row for the gid', () => {
    it('creates it from a live state, listing every field as changed from null', () => {
      const decision = decideProjection(null, live(1000));
      expect(decision).toEqual({
        outcome: 'apply',
        emit: true,
        action: 'created',
        changes: {
          completed: { from: null, to: false },
          gid: { from: null, to: '1200' },
          name: { from: null, to: 'Write docs' },
        },
      });
    });

    it('records a tombstone so a stale state cannot create the row later', () => {
      expect(decideProjection(null, tombstone(1000))).toEqual({
        outcome: 'apply',
        emit: true,
        action: 'deleted',
        changes: {},
      });
    });
  });

  describe('given a live row', () => {
    it('ignores an older version', () => {
      expect(decideProjection(stored(2000), live(1000, 'older'))).toEqual({ outcome: 'stale' });
    });

    it('treats the same version again as a duplicate, even with other content', () => {
      expect(decideProjection(stored(2000), live(2000, 'other'))).toEqual({ outcome: 'duplicate' });
    });

    it('applies a newer version and emits only the fields that changed', () => {
      expect(decideProjection(stored(2000), live(3000, 'Renamed'))).toEqual({
        outcome: 'apply',
        emit: true,
        action: 'updated',
        changes: { name: { from: 'Write docs', to: 'Renamed' } },
      });
    });

    it('applies a newer version whose visible fields are unchanged without emitting', () => {
      expect(decideProjection(stored(2000), live(3000))).toEqual({ outcome: 'apply', emit: false });
    });

    it('tombstones on a newer tombstone', () => {
      expect(decideProjection(stored(2000), tombstone(3000))).toMatchObject({ emit: true, action: 'deleted' });
    });

    it('ignores a tombstone older than the row (the resource was undeleted since)', () => {
      expect(decideProjection(stored(3000), tombstone(2000))).toEqual({ outcome: 'stale' });
    });
  });

  describe('given a deleted row', () => {
    it('never lets a stale live state resurrect it', () => {
      expect(decideProjection(stored(3000, true), live(2000))).toEqual({ outcome: 'stale' });
    });

    it('undeletes on a newer live state, with the fields that changed meanwhile', () => {
      expect(decideProjection(stored(3000, true), live(4000, 'Back'))).toEqual({
        outcome: 'apply',
        emit: true,
        action: 'undeleted',
        changes: { name: { from: 'Write docs', to: 'Back' } },
      });
    });

    it('undeletes on a newer live state even when no field changed', () => {
      expect(decideProjection(stored(3000, true), live(4000))).toEqual({
        outcome: 'apply',
        emit: true,
        action: 'undeleted',
        changes: {},
      });
    });

    it('keeps a second, newer tombstone silent', () => {
      expect(decideProjection(stored(3000, true), tombstone(4000))).toEqual({ outcome: 'apply', emit: false });
    });
  });
});
