import { parseOptFields, selectFields, type JsonObject } from './opt-fields';

const task: JsonObject = {
  gid: '1',
  resource_type: 'task',
  name: 'Feed the cat',
  assignee: { gid: '2', resource_type: 'user', name: 'Ada', email: 'ada@example.com' },
  projects: [{ gid: '3', resource_type: 'project', name: 'Home' }],
  memberships: [{ project: { gid: '3', resource_type: 'project', name: 'Home' }, section: { gid: '4', name: 'S' } }],
  completed_at: null,
};

function select(optFields: string): JsonObject {
  return selectFields(task, parseOptFields(optFields)!);
}

describe('opt_fields', () => {
  it('returns only the requested fields plus gid, which is always there', () => {
    expect(select('name')).toEqual({ gid: '1', name: 'Feed the cat' });
  });

  it('shrinks a nested resource named without subfields to its gid', () => {
    expect(select('assignee,projects')).toEqual({ gid: '1', assignee: { gid: '2' }, projects: [{ gid: '3' }] });
  });

  it('follows dotted paths into nested resources and arrays of them', () => {
    expect(select('assignee.name,projects.name')).toEqual({
      gid: '1',
      assignee: { gid: '2', name: 'Ada' },
      projects: [{ gid: '3', name: 'Home' }],
    });
  });

  it('keeps every key of a nested object that is not a resource, each resource in it shrunk to its gid', () => {
    expect(select('memberships')).toEqual({
      gid: '1',
      memberships: [{ project: { gid: '3' }, section: { gid: '4' } }],
    });
    expect(select('memberships.project.name')).toEqual({
      gid: '1',
      memberships: [{ project: { gid: '3', name: 'Home' } }],
    });
  });

  it('keeps null values and leaves unknown fields out', () => {
    expect(select('completed_at,no_such_field')).toEqual({ gid: '1', completed_at: null });
  });

  it('accepts repeated parameters, spaces and the older this.field spelling', () => {
    expect(selectFields(task, parseOptFields(['this.name', ' resource_type '])!)).toEqual({
      gid: '1',
      name: 'Feed the cat',
      resource_type: 'task',
    });
  });

  it('treats an absent or empty opt_fields as no selection', () => {
    expect(parseOptFields(undefined)).toBeUndefined();
    expect(parseOptFields('')).toBeUndefined();
  });
});
