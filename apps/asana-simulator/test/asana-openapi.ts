import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

type Node = Record<string, unknown>;

const SPEC_ID = 'asana_oas.yaml';
const SPEC_PATH = join(__dirname, 'asana_oas.yaml');

/**
 * A place where Asana's spec and Asana's API disagree, and the simulator follows the API. Each
 * patch is applied to the spec before validation; a test checks that each is still needed.
 */
export interface SpecGap {
  what: string;
  why: string;
  patch(spec: Node): void;
}

/** Reads a raw spec, parsed once per test file: it is 3 MB of YAML and takes most of a second. */
export function readAsanaSpec(): Node {
  return parse(readFileSync(SPEC_PATH, 'utf8')) as Node;
}

function isObject(value: unknown): value is Node {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The object at a path in the spec; throws if there is none. */
export function specNode(node: unknown, ...keys: (string | number)[]): Node {
  let current = node;
  for (const key of keys) {
    if (!isObject(current) && !Array.isArray(current)) throw new Error(`no ${keys.join('/')} in the spec`);
    current = (current as Record<string | number, unknown>)[key];
  }
  if (!isObject(current)) throw new Error(`no ${keys.join('/')} in the spec`);
  return current;
}

/**
 * OpenAPI 3.0 schemas are not quite JSON Schema: `nullable: true` stands for "or null". Ajv
 * understands it only beside a `type`, and Asana's spec also writes "this $ref, or null" as
 * `allOf: [{$ref}, {nullable: true}]`, which a JSON Schema validator would read as "never null".
 * This rewrites both forms to `type: [..., "null"]` and `anyOf: [{type: "null"}, ...]`.
 */
export function openApiToJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(openApiToJsonSchema);
  if (!isObject(node)) return node;
  const source: Node = { ...node };
  const allOf = source.allOf;
  const nullableAllOf = Array.isArray(allOf) && allOf.some((member) => isObject(member) && member.nullable === true);
  if (nullableAllOf) {
    source.allOf = (allOf as unknown[]).map((member) => {
      if (!isObject(member)) return member;
      const { nullable: _nullable, ...rest } = member;
      return rest;
    });
  }
  const out: Node = Object.fromEntries(Object.entries(source).map(([key, value]) => [key, openApiToJsonSchema(value)]));
  if (typeof out.nullable === 'boolean') {
    const nullable = out.nullable;
    delete out.nullable;
    if (nullable && typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...(out.enum as unknown[]), null];
    } else if (nullable && out.type === undefined) {
      return { anyOf: [{ type: 'null' }, out] };
    }
  }
  return nullableAllOf ? { anyOf: [{ type: 'null' }, out] } : out;
}

/** Validates real HTTP response bodies against the response schemas of Asana's OpenAPI spec. */
export class AsanaOpenApi {
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly spec: Node) {
    this.ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.ajv);
    this.ajv.addSchema(openApiToJsonSchema(spec) as Node, SPEC_ID);
  }

  /** A spec with the given gaps patched in; `raw` itself is left untouched. */
  static withGaps(raw: Node, gaps: readonly SpecGap[]): AsanaOpenApi {
    const spec = structuredClone(raw);
    for (const gap of gaps) gap.patch(spec);
    return new AsanaOpenApi(spec);
  }

  /**
   * Problems of `body` as the `status` response of `method pathTemplate` (e.g. `get`,
   * `/tasks/{task_gid}`, 200); empty when it conforms. Fails if the spec defines no such response,
   * so an undocumented status code is caught too.
   */
  problems(method: string, pathTemplate: string, status: number, body: unknown): string[] {
    const validate = this.validator(method, pathTemplate, status);
    if (validate(body)) return [];
    return (validate.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
  }

  private validator(method: string, pathTemplate: string, status: number): ValidateFunction {
    const key = `${method} ${pathTemplate} ${status}`;
    let validate = this.validators.get(key);
    if (!validate) {
      const pointer = this.responseSchemaPointer(method, pathTemplate, status);
      validate = this.ajv.compile({ $ref: `${SPEC_ID}#${pointer}` });
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** JSON pointer to the response's `application/json` schema, following a `$ref` to components/responses. */
  private responseSchemaPointer(method: string, pathTemplate: string, status: number): string {
    let segments: string[] = ['paths', pathTemplate, method, 'responses', String(status)];
    const response = specNode(this.spec, ...segments);
    if (typeof response.$ref === 'string') {
      segments = response.$ref.replace(/^#\//, '').split('/');
      specNode(this.spec, ...segments);
    }
    segments.push('content', 'application/json', 'schema');
    specNode(this.spec, ...segments);
    return `/${segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')}`;
  }
}
