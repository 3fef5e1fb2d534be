import type { AsanaWebhookFilter } from '@asana-stream/asana';

/** The actions Asana's `WebhookFilter.action` takes (its API reference, `Event.action`). */
export const WEBHOOK_FILTER_ACTIONS = ['changed', 'added', 'removed', 'deleted', 'undeleted'] as const;

/** What `--filter` takes, for `--help` and every error about it. */
export const WEBHOOK_FILTER_SYNTAX = 'resource_type[/resource_subtype][:action[:field,field,…]]';

/** `--help` of `--filter`. */
export const WEBHOOK_FILTER_HELP =
  `one of Asana's webhook filters, ${WEBHOOK_FILTER_SYNTAX}; repeat it for more (an event passes if it ` +
  `passes any one). action: ${WEBHOOK_FILTER_ACTIONS.join(', ')}; fields only with changed. A webhook on a ` +
  `workspace, team or portfolio must have one: Asana refuses it without, takes no fields there, and never ` +
  `sends it task or story events (e.g. --filter project:added --filter project:changed); on a project or ` +
  `task, e.g. --filter task/milestone:changed:due_on,due_at. Kept with the subscription: a webhook made ` +
  `again (Asana deleted it, or webhooks rotate) gets the same filters`;

/** Asana's resource types and subtypes, and field names: lower-case words joined by `_`. */
const NAME = /^[a-z][a-z0-9_]*$/;

/** A `--filter` that does not say a filter, with what was wrong (the message is the operator's). */
export class WebhookFilterSyntaxError extends Error {
  constructor(given: string, problem: string) {
    super(`--filter "${given}": ${problem} (the form is ${WEBHOOK_FILTER_SYNTAX}, e.g. task:changed:due_on)`);
    this.name = 'WebhookFilterSyntaxError';
  }
}

/**
 * One `--filter` as Asana's `WebhookFilter`: `project` (any of a project's events),
 * `task:changed`, `task/milestone:changed:due_on,due_at` (`resource_subtype` after a `/`, `fields`
 * after the action, comma-separated). Only its shape is checked here (what Asana's reference says
 * of every filter: an action it knows, fields only with `changed`); which filters a resource
 * allows is Asana's to say, and its refusal is shown as it is.
 */
export function parseWebhookFilter(given: string): AsanaWebhookFilter {
  const fail = (problem: string): never => {
    throw new WebhookFilterSyntaxError(given, problem);
  };
  if (given.trim() === '') fail('a filter names at least a resource type');
  const parts = given.split(':');
  if (parts.length > 3) fail('too many ":" (at most a type, an action and fields)');
  const [type, action, fields] = parts;
  const [resourceType, subtype, ...extra] = type.split('/');
  if (resourceType === '') fail('a filter names at least a resource type');
  if (!NAME.test(resourceType)) fail(`"${resourceType}" is not a resource type (lower-case letters, digits, _)`);
  const filter: AsanaWebhookFilter = { resource_type: resourceType };
  if (extra.length > 0) fail('at most one "/" (a resource type and its subtype)');
  if (subtype !== undefined) {
    if (subtype === '') fail('nothing after "/": name a resource subtype, or leave out the "/"');
    if (!NAME.test(subtype)) fail(`"${subtype}" is not a resource subtype (lower-case letters, digits, _)`);
    filter.resource_subtype = subtype;
  }
  if (action !== undefined) {
    if (action === '') fail(`no action after ":" (one of ${WEBHOOK_FILTER_ACTIONS.join(', ')})`);
    if (!(WEBHOOK_FILTER_ACTIONS as readonly string[]).includes(action)) {
      fail(`unknown action "${action}" (one of ${WEBHOOK_FILTER_ACTIONS.join(', ')})`);
    }
    filter.action = action;
  }
  if (fields !== undefined) {
    if (action !== 'changed') fail('fields are only valid with the action changed (Asana says so)');
    const names = fields.split(',');
    if (names.some((name) => name === '')) fail('an empty field name (fields are comma-separated, none empty)');
    const bad = names.find((name) => !NAME.test(name));
    if (bad !== undefined) fail(`"${bad}" is not a field name (lower-case letters, digits, _)`);
    filter.fields = [...new Set(names)];
  }
  return filter;
}
