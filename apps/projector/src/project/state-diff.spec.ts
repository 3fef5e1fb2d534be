import { diffStates } from './state-diff';

describe('diffStates', () => {
  it('is empty for equal states', () => {
    expect(
      diffStates({ gid: '1', name: 'a', tags: [{ gid: '9' }] }, { gid: '1', name: 'a', tags: [{ gid: '9' }] }),
    ).toEqual({});
  });

  it('lists changed scalars with from and to', () => {
    expect(diffStates({ gid: '1', completed: false }, { gid: '1', completed: true })).toEqual({
      completed: { from: false, to: true },
    });
  });

  it('compares nested objects by value', () => {
    expect(
      diffStates({ gid: '1', assignee: { gid: '5', name: 'Ann' } }, { gid: '1', assignee: { gid: '6', name: 'Bo' } }),
    ).toEqual({
      assignee: { from: { gid: '5', name: 'Ann' }, to: { gid: '6', name: 'Bo' } },
    });
  });

  it('treats a missing field and null alike', () => {
    expect(diffStates({ gid: '1', assignee: null }, { gid: '1' })).toEqual({});
  });

  it('lists added and removed fields', () => {
    expect(diffStates({ gid: '1', notes: 'x' }, { gid: '1', due_on: '2026-12-01' })).toEqual({
      due_on: { from: null, to: '2026-12-01' },
      notes: { from: 'x', to: null },
    });
  });

  it('leaves out modified_at, which the version already carries', () => {
    expect(diffStates({ gid: '1', modified_at: 'a' }, { gid: '1', modified_at: 'b' })).toEqual({});
  });

  it('lists every field of a first state from null, in field order, without modified_at', () => {
    const changes = diffStates(null, {
      resource_type: 'task',
      gid: '1',
      name: 'a',
      assignee: { gid: '5' },
      notes: null,
      modified_at: 'b',
    });
    expect(changes).toEqual({
      assignee: { from: null, to: { gid: '5' } },
      gid: { from: null, to: '1' },
      name: { from: null, to: 'a' },
      resource_type: { from: null, to: 'task' },
    });
    expect(Object.keys(changes)).toEqual(['assignee', 'gid', 'name', 'resource_type']);
  });

  it('lists every field of a last state to null, in field order', () => {
    const changes = diffStates({ name: 'a', gid: '1', tags: [] }, null);
    expect(changes).toEqual({
      gid: { from: '1', to: null },
      name: { from: 'a', to: null },
      tags: { from: [], to: null },
    });
    expect(Object.keys(changes)).toEqual(['gid', 'name', 'tags']);
  });

  it('lists the fields of both states in field order', () => {
    expect(Object.keys(diffStates({ b: 1, d: 1, gid: '1' }, { a: 1, c: 1, gid: '1' }))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('is empty for two absent states', () => {
    expect(diffStates(null, null)).toEqual({});
  });

  it('notices order changes inside arrays', () => {
    expect(
      diffStates(
        { gid: '1', projects: [{ gid: 'a' }, { gid: 'b' }] },
        { gid: '1', projects: [{ gid: 'b' }, { gid: 'a' }] },
      ),
    ).toHaveProperty('projects');
  });
});
