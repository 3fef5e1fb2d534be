/** A parsed `opt_fields` list: each requested field and the subfields requested beneath it. */
export type FieldTree = Map<string, FieldTree>;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * Parses `opt_fields=a,b.c` (also Asana's older `this.a` form) into a tree; undefined when the
 * request names no fields, so the endpoint's default representation applies.
 */
export function parseOptFields(raw: unknown): FieldTree | undefined {
  const values = Array.isArray(raw) ? raw : [raw];
  const paths = values
    .filter((value): value is string => typeof value === 'string')
    .flatMap((value) => value.split(','))
    .map((path) => path.trim().replace(/^this\./, ''))
    .filter((path) => path !== '');
  return paths.length === 0 ? undefined : fieldTree(paths);
}

export function fieldTree(paths: readonly string[]): FieldTree {
  const root: FieldTree = new Map();
  for (const path of paths) {
    let node = root;
    for (const segment of path.split('.')) {
      let child = node.get(segment);
      if (!child) {
        child = new Map();
        node.set(segment, child);
      }
      node = child;
    }
  }
  return root;
}

/**
 * Picks the requested fields out of a resource's full representation, the way Asana's
 * `opt_fields` does: `gid` is always kept; a nested resource named without subfields shrinks to
 * its `gid`; a nested object that is not a resource (a membership) keeps every key, each shrunk
 * the same way. Unknown field names are left out rather than rejected.
 */
export function selectFields(resource: JsonObject, fields: FieldTree): JsonObject {
  return select(resource, fields) as JsonObject;
}

function select(value: Json, fields: FieldTree): Json {
  if (Array.isArray(value)) return value.map((item) => select(item, fields));
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  const isResource = 'gid' in value;
  if (isResource) out.gid = value.gid;
  const wanted: Iterable<[string, FieldTree]> =
    fields.size === 0 && !isResource ? Object.keys(value).map((key) => [key, new Map()]) : fields;
  for (const [key, subfields] of wanted) {
    if (key in value && key !== 'gid') out[key] = select(value[key], subfields);
  }
  return out;
}
