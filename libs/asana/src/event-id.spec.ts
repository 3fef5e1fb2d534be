import { asanaTaskEvent } from '@asana-stream/testing';
import { asanaEventId, canonicalAsanaEvent } from './event-id';
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

  // Ids are stored (asana.events, projections' causes): the serialisation may never change them.
  it.each([
    ['a plain change', event, '0fd5960034b8b11cfd971d3adc655933'],
    [
      'a change with a new value, a parent and characters JSON escapes',
      {
        ...event,
        parent: { gid: '9', resource_type: 'project', resource_subtype: 'default' },
        change: {
          field: 'assignee',
          action: 'changed' as const,
          new_value: { gid: '7', resource_type: 'user', name: 'Zoë "Q" \u2028 <x>' },
        },
      },
      '3cbdd10cb34343f73260fd0a622a67c3',
    ],
  ])('gives %s the id it has always had', (_label, subject, id) => {
    expect(asanaEventId(subject)).toBe(id);
  });

  it('refuses what is not JSON rather than guessing an id', () => {
    const cyclic = structuredClone(event) as AsanaEvent & { self?: unknown };
    cyclic.self = cyclic;
    expect(() => asanaEventId(cyclic)).toThrow(TypeError);
  });

  it('is 32 lowercase hex characters', () => {
    expect(asanaEventId(event)).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('canonicalAsanaEvent', () => {
  const reordered = JSON.parse(
    '{"parent":null,"user":{"resource_type":"user","gid":"42"},"change":{"field":"name","action":"changed"},"action":"changed","created_at":"2026-11-22T10:00:00.000Z","resource":{"resource_subtype":"default_task","gid":"1200","resource_type":"task"}}',
  ) as AsanaEvent;

  it('gives the id asanaEventId gives', () => {
    expect(canonicalAsanaEvent(event).eventId).toBe(asanaEventId(event));
    expect(canonicalAsanaEvent(reordered).eventId).toBe(asanaEventId(event));
  });

  it('writes the event as JSON with the keys of every object sorted, whatever order they came in', () => {
    expect(canonicalAsanaEvent(reordered).json).toBe(
      '{"action":"changed","change":{"action":"changed","field":"name"},"created_at":"2026-11-22T10:00:00.000Z","parent":null,"resource":{"gid":"1200","resource_subtype":"default_task","resource_type":"task"},"user":{"gid":"42","resource_type":"user"}}',
    );
  });

  it('writes JSON that reads back as the event', () => {
    const escaped = {
      ...event,
      change: {
        field: 'name',
        action: 'changed' as const,
        new_value: { gid: '7', resource_type: 'user', name: 'a "b" \u2028 \\ é' },
      },
    };
    expect(JSON.parse(canonicalAsanaEvent(escaped).json)).toEqual(escaped);
  });
});
