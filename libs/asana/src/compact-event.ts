import type { AsanaEvent, AsanaEventChange, AsanaResourceRef } from './types';

/**
 * An event in the compact form webhooks deliver: references as `{gid, resource_type,
 * resource_subtype?}`, no deprecated `type`. The Events API names its references (`name`) and
 * adds `type`; compacted, the same change read from either source is the same JSON, so it gets
 * the same `asanaEventId` and duplicates collapse.
 */
export function compactEvent(event: AsanaEvent): AsanaEvent {
  const compact: AsanaEvent = {
    user: event.user ? compactRef(event.user) : null,
    created_at: event.created_at,
    action: event.action,
    resource: compactRef(event.resource),
    parent: event.parent ? compactRef(event.parent) : null,
  };
  if (event.change) compact.change = compactChange(event.change);
  return compact;
}

function compactRef(ref: AsanaResourceRef): AsanaResourceRef {
  const compact: AsanaResourceRef = { gid: ref.gid, resource_type: ref.resource_type };
  if (ref.resource_subtype !== undefined) compact.resource_subtype = ref.resource_subtype;
  return compact;
}

const CHANGE_VALUES = ['new_value', 'added_value', 'removed_value'] as const;

function compactChange(change: AsanaEventChange): AsanaEventChange {
  const compact: AsanaEventChange = { ...change };
  for (const key of CHANGE_VALUES) {
    const value = change[key];
    // A reference is compacted; a scalar new value (a name, a date) is the change itself.
    if (isRef(value)) compact[key] = compactRef(value);
  }
  return compact;
}

function isRef(value: unknown): value is AsanaResourceRef {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { gid?: unknown }).gid === 'string' &&
    typeof (value as { resource_type?: unknown }).resource_type === 'string'
  );
}
