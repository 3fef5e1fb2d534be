import { invalidRequest } from '../simulator.errors';
import { parseOptFields, type FieldTree } from '../workspace/opt-fields';

/** The `data` object of an Asana write request (`{"data": {...}}`). */
export function readData(body: unknown): Record<string, unknown> {
  const data = isObject(body) ? body.data : undefined;
  if (!isObject(data)) throw invalidRequest('data: Missing input');
  return data;
}

/**
 * The fields to return: `opt_fields` in the query, or for writes also `options.fields` in the
 * body, Asana's other spelling of the same option.
 */
export function readOptFields(query: Record<string, unknown>, body?: unknown): FieldTree | undefined {
  const options = isObject(body) && isObject(body.options) ? body.options : undefined;
  return parseOptFields(query.opt_fields) ?? parseOptFields(options?.fields);
}

export function optionalString(data: Record<string, unknown>, key: string): string | undefined {
  const value = data[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidRequest(`${key}: Value is not a string: ${JSON.stringify(value)}`);
  return value;
}

export function optionalNullableString(data: Record<string, unknown>, key: string): string | null | undefined {
  return data[key] === null ? null : optionalString(data, key);
}

export function optionalBoolean(data: Record<string, unknown>, key: string): boolean | undefined {
  const value = data[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw invalidRequest(`${key}: Value is not a boolean: ${JSON.stringify(value)}`);
  return value;
}

export function optionalStringArray(data: Record<string, unknown>, key: string): string[] | undefined {
  const value = data[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidRequest(`${key}: Value is not an array of strings`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
