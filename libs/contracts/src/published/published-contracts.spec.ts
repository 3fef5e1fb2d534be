import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { AsanaEvent, AsanaResource } from '@asana-stream/asana';
import type {
  AsanaEventEnvelope,
  ChangeAction,
  EventSource,
  FieldChange,
  ResourceChangeMessage,
  ResourceStateMessage,
} from '../messages';
import {
  canonical,
  headerProblems,
  PUBLISHED_CONTRACTS,
  publicationProblems,
  publishedContract,
  schemaFileName,
  schemaId,
  type PublishedContract,
} from './published-contracts';
import { publishedArtifacts, readPublishedSchemas, SCHEMAS_DIR } from './write-published';

const ROOT = join(__dirname, '../../../..');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Editable = { [key: string]: Json };
/** The object at a JSON pointer into a schema, to edit in place. */
const at = (schema: Editable, pointer: string): Editable =>
  pointer
    .split('/')
    .filter(Boolean)
    .reduce((node, key) => node[key] as Editable, schema);
/** A schema's `required` list or `enum`, to edit in place. */
const list = (node: Editable, key: 'required' | 'enum'): Json[] => node[key] as Json[];

/** The contracts with one edited in memory (a deep copy of its schema), as a developer would edit it. */
function edited(name: string, edit: (schema: Editable) => void, version?: number): readonly PublishedContract[] {
  return PUBLISHED_CONTRACTS.map((contract) => {
    if (contract.name !== name) return contract;
    const schema = structuredClone(contract.schema) as unknown as Editable;
    edit(schema);
    return {
      ...contract,
      version: version ?? contract.version,
      schema: schema as unknown as PublishedContract['schema'],
    };
  });
}

/** Bumps a contract's version in its schema the way a new major version must: `$id` and `schema`. */
const bumped = (name: string, version: number) => (schema: Editable) => {
  schema.$id = schemaId(name, version);
  if (at(schema, '/properties').schema) at(schema, '/properties/schema').const = version;
};

describe('the published contracts', () => {
  const committed = readPublishedSchemas(ROOT);

  it('are published as they are now: every version’s file, none broken, the current one up to date', () => {
    expect(publicationProblems(PUBLISHED_CONTRACTS, committed)).toEqual([]);
  });

  it('have their schema files and docs/contracts.md written by `npm run contracts:write`, as committed', async () => {
    for (const [path, text] of await publishedArtifacts(ROOT)) {
      expect({ path, text: readFileSync(join(ROOT, path), 'utf8') }).toEqual({ path, text });
    }
  });

  it('are rendered in docs/contracts.md with each topic, key, header and field, and the versioning policy', () => {
    const doc = readFileSync(join(ROOT, 'docs/contracts.md'), 'utf8');
    expect(doc).toContain('## Versioning');
    for (const contract of PUBLISHED_CONTRACTS) {
      const section = doc.slice(doc.indexOf(`## ${contract.schema.title}\n`));
      expect(section).toContain(`**Topic**: ${contract.topic}`);
      expect(section).toContain(`**Key**: ${contract.key}`);
      for (const header of contract.headers) expect(section).toContain(`| \`${header.name}\``);
      const properties = Object.keys((contract.schema as { properties?: object }).properties ?? {});
      expect(properties.length).toBeGreaterThan(0);
      for (const property of properties) expect(section).toContain(`| \`${property}\``);
    }
  });

  it('cover the change message, the state and the event envelope, each in its own file', () => {
    expect(PUBLISHED_CONTRACTS.map((c) => schemaFileName(c.name, c.version)).sort()).toEqual([
      'asana-event-envelope.v1.json',
      'resource-change.v1.json',
      'resource-state.v1.json',
    ]);
  });

  it('compile as draft-07 schemas in a reader’s strict validator, with only standard formats', () => {
    for (const [file, schema] of committed) {
      const ajv = new Ajv({ strict: true });
      addFormats(ajv);
      expect({ file, valid: ajv.validateSchema(schema as object) }).toEqual({ file, valid: true });
      expect(() => ajv.compile(schema as object)).not.toThrow();
    }
  });
});

describe('publicationProblems, when a schema changes in memory', () => {
  const committed = readPublishedSchemas(ROOT);
  const withFile = (contracts: readonly PublishedContract[], name: string) => {
    const contract = contracts.find((c) => c.name === name)!;
    return new Map([...committed, [schemaFileName(name, contract.version), canonical(contract.schema)]]);
  };

  it('fails a breaking change made without a new version, naming what breaks and what to do', () => {
    const contracts = edited('resource-change', (s) => {
      delete at(s, '/properties').occurredAt;
      s.required = list(s, 'required').filter((n) => n !== 'occurredAt');
    });
    expect(publicationProblems(contracts, committed)).toEqual([
      'resource-change.v1.json: the current resource-change schema breaks its readers (/properties/occurredAt: property occurredAt removed): publish it as version 2 (a new resource-change.v2.json, resource-change.v1.json kept) instead',
    ]);
  });

  it.each<[string, (s: Editable) => void, string]>([
    ['a retyped field', (s) => (at(s, '/properties/version').type = 'string'), 'type changed from integer to string'],
    [
      'a new required field',
      (s) => {
        at(s, '/properties').tenant = { type: 'string' };
        list(s, 'required').push('tenant');
      },
      'property tenant newly required',
    ],
    ['a narrowed enum', (s) => list(at(s, '/properties/action'), 'enum').pop(), 'enum narrowed: "undeleted" removed'],
    ['additionalProperties tightened', (s) => (s.additionalProperties = false), 'additionalProperties tightened'],
  ])('fails %s made without a new version', (_label, edit, expected) => {
    const [problem] = publicationProblems(edited('resource-change', edit), committed);
    expect(problem).toContain(expected);
    expect(problem).toContain('publish it as version 2');
  });

  it('asks only for the file to be rewritten after a compatible change, and passes once it is', () => {
    const contracts = edited('resource-state', (s) => {
      at(s, '/properties').etag = { type: 'string', description: 'A new optional field.' };
    });
    expect(publicationProblems(contracts, committed)).toEqual([
      'resource-state.v1.json is not the current resource-state schema (a compatible change): run `npm run contracts:write`',
    ]);
    expect(publicationProblems(contracts, withFile(contracts, 'resource-state'))).toEqual([]);
  });

  it('passes a breaking change published as a new version beside the old one', () => {
    const contracts = edited(
      'resource-change',
      (s) => {
        bumped('resource-change', 2)(s);
        at(s, '/properties/version').type = 'string';
      },
      2,
    );
    const files = withFile(contracts, 'resource-change');
    expect(publicationProblems(contracts, files)).toEqual([]);

    files.delete('resource-change.v1.json');
    expect(publicationProblems(contracts, files)).toEqual([
      'resource-change.v1.json is missing: an old version stays published',
    ]);
  });

  it('fails a new version whose file is not written, whose $id or `schema` still says the old one', () => {
    const contracts = edited('resource-change', (s) => (at(s, '/properties/version').type = 'string'), 2);
    expect(publicationProblems(contracts, committed)).toEqual([
      'resource-change: its $id must be urn:asana-stream:contract:resource-change:v2 (version 2), not urn:asana-stream:contract:resource-change:v1',
      'resource-change: its `schema` field must be the const 2, not 1',
      'resource-change.v2.json is missing: run `npm run contracts:write`',
    ]);
  });

  it('fails a file that belongs to no contract version', () => {
    const files = new Map([...committed, ['resource-change.v7.json', {}]]);
    expect(publicationProblems(PUBLISHED_CONTRACTS, files)).toEqual([
      'resource-change.v7.json belongs to no published contract version',
    ]);
  });

  it('reads the committed files from the schemas directory', () => {
    expect([...committed.keys()].sort()).toEqual(
      PUBLISHED_CONTRACTS.map((c) => schemaFileName(c.name, c.version)).sort(),
    );
    expect(SCHEMAS_DIR).toBe('libs/contracts/schemas');
  });
});

describe('headerProblems', () => {
  const change = publishedContract('resource-change');
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('accepts the trace headers and no headers at all', () => {
    expect(headerProblems(change, { traceparent, tracestate: 'vendor=1', baggage: 'k=v' })).toEqual([]);
    expect(headerProblems(change, {})).toEqual([]);
  });

  it('names a header out of format and one the contract does not list', () => {
    expect(headerProblems(change, { traceparent: 'not-a-trace', 'x-secret': '1' })).toEqual([
      'header traceparent: must match ^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
      'header x-secret: not part of the resource-change contract',
    ]);
  });

  it('names a header the contract says is always there when it is missing', () => {
    const strict = { ...change, headers: [{ name: 'x-always', always: true, description: 'test' }] };
    expect(headerProblems(strict, {})).toEqual(['header x-always: is required']);
  });

  it('knows no contract by a name nobody published', () => {
    expect(() => publishedContract('nope')).toThrow('no published contract nope');
  });
});

/** Compile-time checks: the types derived from the schemas keep the shapes every app was written against. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const assertType = <T extends true>(): T => true as T;

describe('the TypeScript types derived from the schemas', () => {
  it('keep the message shapes the apps import', () => {
    expect(assertType<Same<ChangeAction, 'created' | 'updated' | 'deleted' | 'undeleted'>>()).toBe(true);
    expect(assertType<Same<EventSource, 'webhook' | 'events-api' | 'resync'>>()).toBe(true);
    expect(assertType<Same<FieldChange, { from: unknown; to: unknown }>>()).toBe(true);
    expect(
      assertType<
        Same<
          ResourceChangeMessage,
          {
            schema: 1;
            changeId: string;
            gid: string;
            type: string;
            action: ChangeAction;
            version: number;
            changes: Record<string, { from: unknown; to: unknown; [k: string]: unknown }>;
            state: AsanaResource | null;
            causes: string[];
            occurredAt: string;
          }
        >
      >(),
    ).toBe(true);
    expect(
      assertType<
        Same<
          ResourceStateMessage,
          {
            gid: string;
            type: string;
            version: number;
            versionSource: 'modified_at' | 'fetched_at' | 'deleted_event';
            deleted: boolean;
            state: AsanaResource | null;
            fetchedAt: string;
            causes: string[];
          }
        >
      >(),
    ).toBe(true);
    expect(
      assertType<
        Same<
          AsanaEventEnvelope,
          {
            eventId: string;
            source: EventSource;
            subscriptionId?: string | null;
            deliveryId?: string | null;
            receivedAt: string;
            event: AsanaEvent;
          }
        >
      >(),
    ).toBe(true);
  });

  it('have no index signature: a misspelt field does not compile, and Omit keeps the other fields', () => {
    const change = {} as Omit<ResourceChangeMessage, 'changeId'>;
    // @ts-expect-error `occuredAt` is not a field of the change message
    expect(change.occuredAt).toBeUndefined();
    expect(assertType<Same<typeof change.gid, string>>()).toBe(true);
  });
});
