import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/** Where the Events API's OpenAPI document lives: docs/, beside the rest of what consumers read. */
export const EVENTS_API_DOCUMENT_PATH = resolve(__dirname, '../../../docs/events-api.openapi.yaml');

/** The Events API's OpenAPI 3.1 document, parsed. */
export function readEventsApiDocument(path = EVENTS_API_DOCUMENT_PATH): Record<string, unknown> {
  return parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/**
 * A validator of one of the document's component schemas (`Page`, `Error`), the references
 * between them resolved: what the tests check real answers with.
 */
export function componentValidator(name: string, document = readEventsApiDocument()): ValidateFunction {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...document, $id: 'events-api' });
  return ajv.compile({ $ref: `events-api#/components/schemas/${name}` });
}
