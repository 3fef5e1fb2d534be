import type { AsanaEvent } from '@asana-stream/asana';
import { eventsSeenBy, passesWebhookFilters, readWebhookFilters } from './webhook-filters';

const renamed: AsanaEvent = {
  user: null,
  created_at: '2026-01-05T10:00:00.000Z',
  action: 'changed',
  resource: { gid: '1', resource_type: 'task', resource_subtype: 'default_task' },
  parent: null,
  change: { field: 'name', action: 'changed' },
};
const added: AsanaEvent = {
  ...renamed,
  action: 'added',
  change: undefined,
  parent: { gid: '2', resource_type: 'project' },
};

describe('webhook filters', () => {
  it('gives a subscription the events of its resource and what it contains, in order, through its filters', () => {
    const recorded = [
      { event: renamed, watchers: ['1', '2'] },
      { event: added, watchers: ['1', '2'] },
      { event: { ...renamed, resource: { gid: '3', resource_type: 'task' } }, watchers: ['3', '4'] },
    ];
    expect(eventsSeenBy(recorded, '2')).toEqual([renamed, added]);
    expect(eventsSeenBy(recorded, '1', [{ action: 'added' }])).toEqual([added]);
    expect(eventsSeenBy(recorded, '4').map((e) => e.resource.gid)).toEqual(['3']);
    expect(eventsSeenBy(recorded, '9')).toEqual([]);
  });

  it('passes every event when there are no filters', () => {
    expect(passesWebhookFilters(renamed, [])).toBe(true);
  });

  it('requires every key of one filter to match', () => {
    expect(passesWebhookFilters(renamed, [{ resource_type: 'task', action: 'changed' }])).toBe(true);
    expect(passesWebhookFilters(renamed, [{ resource_type: 'task', action: 'added' }])).toBe(false);
    expect(passesWebhookFilters(renamed, [{ resource_subtype: 'milestone' }])).toBe(false);
  });

  it('ORs the filters', () => {
    const filters = [{ action: 'added' }, { action: 'deleted' }];
    expect(passesWebhookFilters(added, filters)).toBe(true);
    expect(passesWebhookFilters(renamed, filters)).toBe(false);
  });

  it('matches fields against the changed field', () => {
    expect(passesWebhookFilters(renamed, [{ action: 'changed', fields: ['name'] }])).toBe(true);
    expect(passesWebhookFilters(renamed, [{ action: 'changed', fields: ['completed'] }])).toBe(false);
  });

  it('accepts fields only with action "changed", as Asana does', () => {
    expect(() => readWebhookFilters([{ action: 'added', fields: ['name'] }])).toThrow(/only valid/);
    expect(() => readWebhookFilters([{ fields: ['name'] }])).toThrow(/only valid/);
    expect(readWebhookFilters([{ action: 'changed', fields: ['name'] }])).toEqual([
      { action: 'changed', fields: ['name'] },
    ]);
  });

  it('rejects unknown actions and malformed filters, and keeps only the keys Asana defines', () => {
    expect(() => readWebhookFilters([{ action: 'exploded' }])).toThrow(/action/);
    expect(() => readWebhookFilters('task')).toThrow(/array/);
    expect(() => readWebhookFilters([3])).toThrow(/object/);
    expect(readWebhookFilters([{ resource_type: 'task', colour: 'red' }])).toEqual([{ resource_type: 'task' }]);
  });
});
