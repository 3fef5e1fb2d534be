import { asanaTaskEvent } from '@asana-stream/testing';
import { asanaEventId } from './event-id';
import type { AsanaEvent } from './types';

const event = asanaTaskEvent();

describe('asanaEventId', () => {
  it('gives a redelivered event the same id', () => {
    expect(asanaEventId(structuredClone(event))).toBe(asanaEventId(event));
  });

  it('does not depend on key order, which varies between deliveries', () => {
    const reordered = JSON.parse(
      '{"change":{"action":"changed","field":"name"},"parent":null,"resource":{"resource_subtype":"default_task","resource_type":"task","gid":"1200"},"action":"changed","created_at":"2026-11-22T10:00:00.000Z","user":{"resource_type":"user","gid":"42"}}',
    ) as AsanaEvent;
    expect(asanaEventId(reordered)).toBe(asanaEventId(event));
  });

  it.each([
    ['another time', { ...event, created_at: '2026-11-22T10:00:00.001Z' }],
    ['another field', { ...event, change: { field: 'notes', action: 'changed' as const } }],
    ['another resource', { ...event, resource: { ...event.resource, gid: '1201' } }],
    ['another user', { ...event, user: null }],
    ['another action', { ...event, action: 'deleted' as const }],
  ])('gives an event with %s a different id', (_label, other) => {
    expect(asanaEventId(other)).not.toBe(asanaEventId(event));
  });

  it('tells apart the two events of one completion that share a created_at', () => {
    const completed = { ...event, change: { field: 'completed', action: 'changed' as const } };
    const completedAt = { ...event, change: { field: 'completed_at', action: 'changed' as const } };
    expect(asanaEventId(completed)).not.toBe(asanaEventId(completedAt));
  });

  it('is 32 lowercase hex characters', () => {
    expect(asanaEventId(event)).toMatch(/^[0-9a-f]{32}$/);
  });
});
