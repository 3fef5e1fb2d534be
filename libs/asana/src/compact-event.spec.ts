import { asanaTaskEvent } from '@asana-stream/testing';
import { compactEvent } from './compact-event';
import { asanaEventId } from './event-id';
import type { AsanaEvent } from './types';

describe('compactEvent', () => {
  const webhookEvent = asanaTaskEvent();

  it('leaves an event in the webhooks’ compact form as it is (its id unchanged)', () => {
    expect(compactEvent(webhookEvent)).toEqual(webhookEvent);
    expect(asanaEventId(compactEvent(webhookEvent))).toBe(asanaEventId(webhookEvent));
  });

  it('gives the Events API’s form of a change the id of its webhook form', () => {
    const fromEventsApi = {
      ...webhookEvent,
      type: 'task',
      user: { ...webhookEvent.user!, name: 'Ada' },
      resource: { ...webhookEvent.resource, name: 'Ship it' },
    } as AsanaEvent;
    expect(asanaEventId(compactEvent(fromEventsApi))).toBe(asanaEventId(webhookEvent));
  });

  it('compacts references in the change and in the parent, and keeps scalar values', () => {
    const event = {
      ...webhookEvent,
      parent: { gid: '9', resource_type: 'project', name: 'Roadmap' },
      change: {
        field: 'assignee',
        action: 'changed',
        new_value: { gid: '7', resource_type: 'user', name: 'Grace' },
        removed_value: null,
      },
    } as AsanaEvent;
    expect(compactEvent(event)).toEqual({
      ...webhookEvent,
      parent: { gid: '9', resource_type: 'project' },
      change: {
        field: 'assignee',
        action: 'changed',
        new_value: { gid: '7', resource_type: 'user' },
        removed_value: null,
      },
    });
    const scalar = {
      ...webhookEvent,
      change: { field: 'name', action: 'changed', new_value: 'x' },
    } as unknown as AsanaEvent;
    expect(compactEvent(scalar).change).toEqual({ field: 'name', action: 'changed', new_value: 'x' });
  });

  it('keeps a null user (a system event) and a missing change', () => {
    const system = { ...webhookEvent, user: null, action: 'added' as const };
    delete (system as Partial<AsanaEvent>).change;
    expect(compactEvent(system)).toEqual(system);
  });
});
