import type { AsanaEvent } from '@asana-stream/asana';

/** A compact Asana event as a webhook delivers it (a task rename by a user), with overrides. */
export function asanaTaskEvent(overrides: Partial<AsanaEvent> = {}): AsanaEvent {
  return {
    user: { gid: '42', resource_type: 'user' },
    created_at: '2026-11-22T10:00:00.000Z',
    action: 'changed',
    resource: { gid: '1200', resource_type: 'task', resource_subtype: 'default_task' },
    parent: null,
    change: { field: 'name', action: 'changed' },
    ...overrides,
  };
}
