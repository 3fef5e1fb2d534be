import type { AsanaEvent, AsanaWebhookFilter } from '@asana-stream/asana';
import { invalidRequest } from '../simulator.errors';
import type { RecordedEvent } from '../workspace/workspace.records';

const ACTIONS = new Set(['changed', 'added', 'removed', 'deleted', 'undeleted']);

/** Validates a `filters` array of a webhook create or update, keeping only the keys Asana defines. */
export function readWebhookFilters(raw: unknown): AsanaWebhookFilter[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalidRequest('filters: Value is not an array');
  return raw.map((item: unknown, i) => {
    const where = `filters[${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw invalidRequest(`${where}: Value is not an object`);
    }
    const source = item as Record<string, unknown>;
    const filter: AsanaWebhookFilter = {};
    for (const key of ['resource_type', 'resource_subtype', 'action'] as const) {
      const value = source[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string') throw invalidRequest(`${where}.${key}: Value is not a string`);
      filter[key] = value;
    }
    if (filter.action !== undefined && !ACTIONS.has(filter.action)) {
      throw invalidRequest(`${where}.action: Unknown action ${filter.action}`);
    }
    if (source.fields !== undefined && source.fields !== null) {
      const { fields } = source;
      if (!Array.isArray(fields) || !fields.every((field) => typeof field === 'string')) {
        throw invalidRequest(`${where}.fields: Value is not an array of strings`);
      }
      if (filter.action !== 'changed') {
        throw invalidRequest(`${where}.fields: fields is only valid for a filter with action "changed"`);
      }
      filter.fields = fields;
    }
    return filter;
  });
}

/**
 * The events a subscription on `resourceGid` sees, in order: those of the resource itself and of
 * what it contains (a project's tasks), passing the filters. The one definition behind both a
 * webhook's deliveries and `GET /events` (which has no filters), so the two always agree.
 */
export function eventsSeenBy(
  recorded: readonly RecordedEvent[],
  resourceGid: string,
  filters: readonly AsanaWebhookFilter[] = [],
): AsanaEvent[] {
  return recorded.filter((entry) => seesEvent(entry, resourceGid, filters)).map(({ event }) => event);
}

/** Whether a subscription on `resourceGid` with `filters` sees one recorded event (see `eventsSeenBy`). */
export function seesEvent(
  { event, watchers }: RecordedEvent,
  resourceGid: string,
  filters: readonly AsanaWebhookFilter[] = [],
): boolean {
  return watchers.includes(resourceGid) && passesWebhookFilters(event, filters);
}

/** Asana ORs a webhook's filters; within one filter every key given must match. No filters pass everything. */
export function passesWebhookFilters(event: AsanaEvent, filters: readonly AsanaWebhookFilter[]): boolean {
  return filters.length === 0 || filters.some((filter) => passesFilter(event, filter));
}

function passesFilter(event: AsanaEvent, filter: AsanaWebhookFilter): boolean {
  if (filter.resource_type !== undefined && filter.resource_type !== event.resource.resource_type) return false;
  if (filter.resource_subtype !== undefined && filter.resource_subtype !== event.resource.resource_subtype) {
    return false;
  }
  if (filter.action !== undefined && filter.action !== event.action) return false;
  if (filter.fields !== undefined) return event.change !== undefined && filter.fields.includes(event.change.field);
  return true;
}
