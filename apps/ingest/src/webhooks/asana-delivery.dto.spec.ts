import { asanaTaskEvent } from '@asana-stream/testing';
import { deliveryProblems } from './asana-delivery.dto';

const event = asanaTaskEvent();

describe('deliveryProblems', () => {
  it('accepts a delivery of Asana events', () => {
    expect(deliveryProblems({ events: [event] })).toEqual([]);
  });

  it('accepts a heartbeat', () => {
    expect(deliveryProblems({ events: [] })).toEqual([]);
  });

  it('accepts a system change with a null user and unknown extra fields', () => {
    expect(deliveryProblems({ events: [{ ...event, user: null, new_field: 1 }] })).toEqual([]);
  });

  it.each([
    ['a non-object', 'events'],
    ['an array', []],
    ['null', null],
    ['no events', {}],
    ['events that are not an array', { events: {} }],
    ['an event without a resource', { events: [{ ...event, resource: undefined }] }],
    ['a non-numeric gid', { events: [{ ...event, resource: { gid: 'abc', resource_type: 'task' } }] }],
    ['an unknown action', { events: [{ ...event, action: 'exploded' }] }],
    ['a bad created_at', { events: [{ ...event, created_at: 'yesterday' }] }],
  ])('rejects %s', (_label, body) => {
    expect(deliveryProblems(body).length).toBeGreaterThan(0);
  });

  it('says where the problem is', () => {
    expect(deliveryProblems({ events: [{ ...event, action: 'exploded' }] }).join()).toMatch(/events\.0\.action/);
  });
});
