import { RESOURCE_CHANGE_MESSAGE_SCHEMA, RESOURCE_STATE_MESSAGE_SCHEMA } from '../validation/schemas';
import { breakingChanges } from './schema-compatibility';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Editable = { [key: string]: Json };

/** A deep copy of a published schema to edit in memory. */
const copy = (schema: object): Editable => structuredClone(schema) as unknown as Editable;
/** The object at a JSON pointer into a schema, to edit in place. */
const at = (schema: Editable, pointer: string): Editable =>
  pointer
    .split('/')
    .filter(Boolean)
    .reduce((node, key) => node[key] as Editable, schema);
/** A schema's `required` list or `enum`, to edit in place. */
const list = (node: Editable, key: 'required' | 'enum'): Json[] => node[key] as Json[];
const problems = (published: object, next: object): string[] =>
  breakingChanges(published, next).map((c) => `${c.path}: ${c.problem}`);

describe('breakingChanges on the published change message', () => {
  const published = RESOURCE_CHANGE_MESSAGE_SCHEMA;

  it('finds nothing between a schema and itself, or a copy with its keys in another order', () => {
    expect(problems(published, published)).toEqual([]);
    const reordered = Object.fromEntries(Object.entries(copy(published)).reverse());
    expect(problems(published, reordered)).toEqual([]);
  });

  it.each<[string, (s: Editable) => void, string[]]>([
    [
      'a removed property',
      (s) => {
        delete at(s, '/properties').occurredAt;
        s.required = list(s, 'required').filter((n) => n !== 'occurredAt');
      },
      ['/properties/occurredAt: property occurredAt removed'],
    ],
    [
      'a retyped property',
      (s) => (at(s, '/properties/version').type = 'string'),
      ['/properties/version/type: type changed from integer to string'],
    ],
    [
      'a property that may now be null',
      (s) => (at(s, '/properties/gid').type = ['string', 'null']),
      ['/properties/gid/type: type changed from string to null | string'],
    ],
    [
      'a new required property',
      (s) => {
        at(s, '/properties').tenant = { type: 'string' };
        list(s, 'required').push('tenant');
      },
      ['/required: property tenant newly required'],
    ],
    [
      'a required property made optional',
      (s) => (s.required = list(s, 'required').filter((n) => n !== 'causes')),
      ['/required: property causes no longer required'],
    ],
    [
      'a narrowed enum',
      (s) => (at(s, '/properties/action').enum = ['created', 'updated', 'deleted']),
      ['/properties/action/enum: enum narrowed: "undeleted" removed'],
    ],
    [
      'additionalProperties tightened at the top',
      (s) => (s.additionalProperties = false),
      ['/additionalProperties: additionalProperties tightened to false'],
    ],
    [
      'additionalProperties tightened inside a field change',
      (s) => (at(s, '/properties/changes/additionalProperties').additionalProperties = false),
      ['/properties/changes/additionalProperties/additionalProperties: additionalProperties tightened to false'],
    ],
    [
      'a retyped map value',
      (s) => (at(s, '/properties/changes').additionalProperties = { type: 'string' }),
      [
        '/properties/changes/additionalProperties/type: type changed from object to string',
        '/properties/changes/additionalProperties/properties/from: property from removed',
        '/properties/changes/additionalProperties/properties/to: property to removed',
      ],
    ],
    [
      'a changed pattern',
      (s) => (at(s, '/properties/gid').pattern = '^[0-9a-f]+$'),
      ['/properties/gid/pattern: constraint pattern changed'],
    ],
    [
      'a new format',
      (s) => (at(s, '/properties/type').format = 'uri'),
      ['/properties/type/format: constraint format added'],
    ],
    [
      'a changed const',
      (s) => (at(s, '/properties/schema').const = 2),
      ['/properties/schema/const: constraint const changed'],
    ],
    [
      'a retyped array item',
      (s) => (at(s, '/properties/causes/items').type = 'integer'),
      ['/properties/causes/items/type: type changed from string to integer'],
    ],
    [
      'a changed condition between fields',
      (s) => (at(s, '/if/properties/action').enum = ['created']),
      ['/if: keyword if changed'],
    ],
    [
      'a keyword the checker does not know',
      (s) => (at(s, '/properties/gid').contentEncoding = 'base64'),
      ['/properties/gid/contentEncoding: keyword contentEncoding added'],
    ],
  ])('reports %s', (_label, edit, expected) => {
    const next = copy(published);
    edit(next);
    expect(problems(published, next)).toEqual(expected);
  });

  it.each<[string, (s: Editable) => void]>([
    ['a new optional property', (s) => (at(s, '/properties').tenant = { type: 'string', description: 'The tenant.' })],
    ['a new enum value', (s) => list(at(s, '/properties/action'), 'enum').push('restored')],
    [
      'new descriptions and titles',
      (s) => {
        s.description = 'Reworded.';
        at(s, '/properties/gid').description = 'Reworded.';
        at(s, '/properties/state').title = 'Renamed';
      },
    ],
    [
      'a new optional property inside a field change',
      (s) => (at(s, '/properties/changes/additionalProperties/properties').at = { type: 'string' }),
    ],
  ])('lets %s through', (_label, edit) => {
    const next = copy(published);
    edit(next);
    expect(problems(published, next)).toEqual([]);
  });

  it('reports every breaking change of one revision, not just the first', () => {
    const next = copy(published);
    delete at(next, '/properties').causes;
    at(next, '/properties/version').type = 'number';
    next.additionalProperties = false;
    expect(problems(published, next)).toEqual([
      '/properties/version/type: type changed from integer to number',
      '/properties/causes: property causes removed',
      '/additionalProperties: additionalProperties tightened to false',
    ]);
  });
});

describe('breakingChanges on objects that allowed no other properties', () => {
  const closed = {
    type: 'object',
    required: ['a'],
    properties: { a: { type: 'string' } },
    additionalProperties: false,
  } as const;

  it('reports a property added to a closed object: its readers reject what they do not know', () => {
    const next = { ...closed, properties: { ...closed.properties, b: { type: 'string' } } };
    expect(problems(closed, next)).toEqual(['/properties/b: property b added where no others were allowed']);
  });

  it('lets a closed object be opened: every old message still fits', () => {
    const { additionalProperties: _closed, ...open } = closed;
    expect(problems(closed, open)).toEqual([]);
    expect(problems(closed, { ...closed, additionalProperties: true })).toEqual([]);
  });

  it('reports a map whose values were constrained made a closed object', () => {
    const map = { type: 'object', additionalProperties: { type: 'string' } };
    expect(problems(map, { type: 'object', additionalProperties: false })).toEqual([
      '/additionalProperties: additionalProperties tightened to false',
    ]);
  });
});

describe('breakingChanges on the state message', () => {
  it('reports the tombstone condition lifted and a boolean schema made false', () => {
    const next = copy(RESOURCE_STATE_MESSAGE_SCHEMA);
    delete next.if;
    delete next.then;
    at(next, '/properties').state = false;
    expect(problems(RESOURCE_STATE_MESSAGE_SCHEMA, next)).toEqual([
      '/properties/state: changed between a boolean schema and one with constraints',
      '/if: keyword if removed',
      '/then: keyword then removed',
    ]);
  });

  it('refuses something that is not a schema', () => {
    expect(() => breakingChanges(RESOURCE_STATE_MESSAGE_SCHEMA, 'schema')).toThrow('not a JSON Schema');
  });
});
