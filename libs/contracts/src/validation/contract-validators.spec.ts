import { asanaTaskEvent } from '@asana-stream/testing';
import type { AsanaEventEnvelope, ResourceChangeMessage, ResourceStateMessage } from '../messages';
import {
  asanaDeliveryContract,
  asanaEventEnvelopeContract,
  resourceChangeMessageContract,
  resourceStateMessageContract,
} from './contract-validators';

const event = asanaTaskEvent();

describe('asanaDeliveryContract', () => {
  const problems = (body: unknown) => asanaDeliveryContract.problems(body);

  it('accepts a delivery of Asana events', () => {
    expect(problems({ events: [event] })).toEqual([]);
  });

  it('accepts a heartbeat', () => {
    expect(problems({ events: [] })).toEqual([]);
  });

  it('accepts a system change with a null user, no parent and unknown extra fields', () => {
    const { parent: _parent, ...withoutParent } = event;
    expect(problems({ events: [{ ...withoutParent, user: null, new_field: 1 }], extra: true })).toEqual([]);
  });

  it('accepts every action Asana sends', () => {
    for (const action of ['changed', 'added', 'removed', 'deleted', 'undeleted']) {
      expect(problems({ events: [{ ...event, action }] })).toEqual([]);
    }
  });

  it.each([
    ['a string', 'events', ['(the value): must be an object']],
    ['an array', [], ['(the value): must be an object']],
    ['null', null, ['(the value): must be an object']],
    ['no events', {}, ['events: is required']],
    ['events that are not an array', { events: {} }, ['events: must be an array']],
    ['an event that is not an object', { events: [7] }, ['events.0: must be an object']],
    [
      'an event without a resource',
      { events: [{ ...event, resource: undefined }] },
      ['events.0.resource: is required'],
    ],
    [
      'a resource that is a string',
      { events: [{ ...event, resource: 'task' }] },
      ['events.0.resource: must be an object'],
    ],
    [
      'a non-numeric gid',
      { events: [{ ...event, resource: { gid: 'abc', resource_type: 'task' } }] },
      ['events.0.resource.gid: must be a numeric string'],
    ],
    [
      'a numeric gid that is a number',
      { events: [{ ...event, resource: { gid: 1200, resource_type: 'task' } }] },
      ['events.0.resource.gid: must be a string'],
    ],
    [
      'a resource without its type',
      { events: [{ ...event, resource: { gid: '1200' } }] },
      ['events.0.resource.resource_type: is required'],
    ],
    [
      'an unknown action',
      { events: [{ ...event, action: 'exploded' }] },
      ['events.0.action: must be one of changed, added, removed, deleted, undeleted'],
    ],
    [
      'a bad created_at',
      { events: [{ ...event, created_at: 'yesterday' }] },
      ['events.0.created_at: must be an ISO 8601 date-time'],
    ],
    [
      'a date without a time',
      { events: [{ ...event, created_at: '2026-11-22' }] },
      ['events.0.created_at: must be an ISO 8601 date-time'],
    ],
    [
      'a parent that is a string',
      { events: [{ ...event, parent: 'x' }] },
      ['events.0.parent: must be an object or null'],
    ],
    ['a user that is an array', { events: [{ ...event, user: [] }] }, ['events.0.user: must be an object or null']],
  ])('rejects %s, saying where', (_label, body, expected) => {
    expect(problems(body)).toEqual(expected);
  });

  it('names every problem of every event, never a value', () => {
    const found = problems({
      events: [event, { ...event, action: 'secret-action', created_at: 'secret-time' }, { ...event, resource: {} }],
    });
    expect(found).toEqual([
      'events.1.action: must be one of changed, added, removed, deleted, undeleted',
      'events.1.created_at: must be an ISO 8601 date-time',
      'events.2.resource.gid: is required',
      'events.2.resource.resource_type: is required',
    ]);
    expect(found.join()).not.toContain('secret');
  });
});

describe('asanaEventEnvelopeContract', () => {
  const envelope = (overrides: Partial<AsanaEventEnvelope> = {}): AsanaEventEnvelope => ({
    eventId: 'e1',
    source: 'webhook',
    subscriptionId: 's1',
    deliveryId: 'd1',
    receivedAt: '2026-11-22T10:00:00.000Z',
    event,
    ...overrides,
  });
  const problems = (value: unknown) => asanaEventEnvelopeContract.problems(value);

  it('accepts an envelope, with null or absent subscription and delivery ids', () => {
    expect(problems(envelope())).toEqual([]);
    expect(problems(envelope({ subscriptionId: null, deliveryId: null, source: 'resync' }))).toEqual([]);
    const { subscriptionId: _s, deliveryId: _d, ...bare } = envelope({ source: 'events-api' });
    expect(problems(bare)).toEqual([]);
  });

  it.each([
    ['a blank event id', { eventId: '  ' }, 'eventId: must not be empty'],
    ['an unknown source', { source: 'carrier-pigeon' }, 'source: must be one of webhook, events-api, resync'],
    ['a numeric subscription id', { subscriptionId: 7 }, 'subscriptionId: must be a string or null'],
    ['a bad receivedAt', { receivedAt: 'now' }, 'receivedAt: must be an ISO 8601 date-time'],
    [
      'an event with a bad gid',
      { event: { ...event, resource: { gid: 'x', resource_type: 'task' } } },
      'event.resource.gid: must be a numeric string',
    ],
    ['no event', { event: undefined }, 'event: is required'],
  ])('rejects %s', (_label, overrides, expected) => {
    expect(problems(envelope(overrides as Partial<AsanaEventEnvelope>))).toEqual([expected]);
  });
});

describe('resourceStateMessageContract', () => {
  const state = (overrides: Partial<ResourceStateMessage> = {}): ResourceStateMessage => ({
    gid: '1200',
    type: 'task',
    version: 1763805600000,
    versionSource: 'modified_at',
    deleted: false,
    state: { gid: '1200', name: 'Write the docs' },
    fetchedAt: '2026-11-22T10:00:00.000Z',
    causes: ['e1'],
    ...overrides,
  });
  const problems = (value: unknown) => resourceStateMessageContract.problems(value);

  it('accepts a live state and a tombstone with or without its last state', () => {
    expect(problems(state())).toEqual([]);
    expect(problems(state({ deleted: true, state: null, versionSource: 'deleted_event' }))).toEqual([]);
    expect(problems(state({ deleted: true, versionSource: 'fetched_at' }))).toEqual([]);
  });

  it.each([
    ['a live state without its resource', { state: null }, 'state: must be an object (null only for a tombstone)'],
    ['a version as a string', { version: '17' }, 'version: must be an integer'],
    ['a fractional version', { version: 1.5 }, 'version: must be an integer'],
    ['a negative version', { version: -1 }, 'version: must be >= 0'],
    [
      'an unknown version source',
      { versionSource: 'guess' },
      'versionSource: must be one of modified_at, fetched_at, deleted_event',
    ],
    ['deleted as a string', { deleted: 'false' }, 'deleted: must be a boolean'],
    ['a blank type', { type: '' }, 'type: must not be empty'],
    ['causes that are not strings', { causes: [7] }, 'causes.0: must be a string'],
    ['a state that is an array', { state: [] as never }, 'state: must be an object or null'],
  ])('rejects %s', (_label, overrides, expected) => {
    expect(problems(state(overrides as Partial<ResourceStateMessage>))).toContain(expected);
  });

  it('names every missing field', () => {
    expect(problems({})).toEqual(
      ['gid', 'type', 'version', 'versionSource', 'deleted', 'state', 'fetchedAt', 'causes'].map(
        (f) => `${f}: is required`,
      ),
    );
  });
});

describe('resourceChangeMessageContract', () => {
  const change = (overrides: Partial<ResourceChangeMessage> = {}): ResourceChangeMessage => ({
    schema: 1,
    changeId: '42',
    gid: '1200',
    type: 'task',
    action: 'updated',
    version: 1763805600000,
    changes: { name: { from: 'Draft', to: 'Write the docs' }, assignee: { from: null, to: { gid: '7' } } },
    state: { gid: '1200', name: 'Write the docs' },
    causes: ['e1'],
    occurredAt: '2026-11-22T10:00:00.000Z',
    ...overrides,
  });
  const problems = (value: unknown) => resourceChangeMessageContract.problems(value);

  it('accepts each action, a delete without its state, and fields it does not know', () => {
    for (const action of ['created', 'updated', 'undeleted'] as const) expect(problems(change({ action }))).toEqual([]);
    expect(problems(change({ action: 'deleted', changes: {}, state: null }))).toEqual([]);
    expect(problems({ ...change(), addedLater: true })).toEqual([]);
  });

  it.each([
    ['a live change without its state', { state: null }, 'state: must be an object (null only for a delete)'],
    ['another contract version', { schema: 2 }, 'schema: must be equal to constant'],
    ['a change id that is not an outbox id', { changeId: 'abc' }, 'changeId: must be a numeric string'],
    ['an unknown action', { action: 'moved' }, 'action: must be one of created, updated, deleted, undeleted'],
    ['a field change without its old value', { changes: { name: { to: 'x' } } }, 'changes.name.from: is required'],
    [
      'an occurredAt without its offset',
      { occurredAt: '2026-11-22T10:00:00' },
      'occurredAt: must be an ISO 8601 date-time',
    ],
    ['a fractional version', { version: 1.5 }, 'version: must be an integer'],
  ])('rejects %s', (_label, overrides, expected) => {
    expect(problems(change(overrides as Partial<ResourceChangeMessage>))).toContain(expected);
  });
});
