import { parseWebhookFilter, WebhookFilterSyntaxError } from './webhook-filter';

describe('parseWebhookFilter (one --filter as Asana’s WebhookFilter)', () => {
  it.each([
    ['project', { resource_type: 'project' }],
    ['task:changed', { resource_type: 'task', action: 'changed' }],
    ['project:added', { resource_type: 'project', action: 'added' }],
    ['task:removed', { resource_type: 'task', action: 'removed' }],
    ['task:deleted', { resource_type: 'task', action: 'deleted' }],
    ['task:undeleted', { resource_type: 'task', action: 'undeleted' }],
    ['task:changed:due_on', { resource_type: 'task', action: 'changed', fields: ['due_on'] }],
    [
      'task:changed:due_on,due_at,custom_fields',
      { resource_type: 'task', action: 'changed', fields: ['due_on', 'due_at', 'custom_fields'] },
    ],
    ['task:changed:due_on,due_on', { resource_type: 'task', action: 'changed', fields: ['due_on'] }],
    ['task/milestone', { resource_type: 'task', resource_subtype: 'milestone' }],
    ['story/comment_added:added', { resource_type: 'story', resource_subtype: 'comment_added', action: 'added' }],
    [
      'task/default_task:changed:name',
      { resource_type: 'task', resource_subtype: 'default_task', action: 'changed', fields: ['name'] },
    ],
  ])('reads %p', (given, filter) => {
    expect(parseWebhookFilter(given)).toEqual(filter);
  });

  it.each([
    ['', 'a filter names at least a resource type'],
    ['   ', 'a filter names at least a resource type'],
    [':changed', 'a filter names at least a resource type'],
    ['/milestone', 'a filter names at least a resource type'],
    ['Task', '"Task" is not a resource type (lower-case letters, digits, _)'],
    ['task type', '"task type" is not a resource type (lower-case letters, digits, _)'],
    ['1task', '"1task" is not a resource type (lower-case letters, digits, _)'],
    ['task/', 'nothing after "/": name a resource subtype, or leave out the "/"'],
    ['task/mile-stone', '"mile-stone" is not a resource subtype (lower-case letters, digits, _)'],
    ['task/milestone/x', 'at most one "/" (a resource type and its subtype)'],
    ['task:', 'no action after ":" (one of changed, added, removed, deleted, undeleted)'],
    ['task:modified', 'unknown action "modified" (one of changed, added, removed, deleted, undeleted)'],
    ['task:CHANGED', 'unknown action "CHANGED" (one of changed, added, removed, deleted, undeleted)'],
    ['task::due_on', 'no action after ":" (one of changed, added, removed, deleted, undeleted)'],
    ['task:added:due_on', 'fields are only valid with the action changed (Asana says so)'],
    ['task:changed:', 'an empty field name (fields are comma-separated, none empty)'],
    ['task:changed:due_on,,name', 'an empty field name (fields are comma-separated, none empty)'],
    ['task:changed:due_on,', 'an empty field name (fields are comma-separated, none empty)'],
    ['task:changed:Due On', '"Due On" is not a field name (lower-case letters, digits, _)'],
    ['task:changed:due_on:name', 'too many ":" (at most a type, an action and fields)'],
  ])('refuses %p: %s', (given, problem) => {
    let thrown: unknown;
    try {
      parseWebhookFilter(given);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(WebhookFilterSyntaxError);
    expect((thrown as Error).message).toBe(
      `--filter "${given}": ${problem} (the form is resource_type[/resource_subtype][:action[:field,field,…]], e.g. task:changed:due_on)`,
    );
  });
});
