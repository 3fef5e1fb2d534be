/**
 * Whether a new revision of a published JSON Schema breaks its readers, judged structurally for the
 * subset of JSON Schema asana-stream's contracts use (type, const, enum, pattern, format, minimum,
 * properties, required, additionalProperties, items, if/then/else).
 *
 * Why a checker of our own: the maintained npm one, json-schema-diff, compares the *sets of values*
 * two schemas accept. In an open schema (no `additionalProperties: false`, as ours are, so that
 * fields can be added) a new optional property makes that set smaller, so it reports every
 * addition as a removal, and a removed property as a mere widening; it cannot express "a reader
 * relied on this field". The rules here are the ones the versioning policy states
 * (docs/contracts.md), in the spirit of Confluent's JSON Schema rules for an open content model:
 *
 * - **Breaking**: a property removed, or made optional, or a new required one (old messages lack it,
 *   and readers of the old schema relied on the removed one); a changed `type` or `const`; an
 *   enum value removed; any value constraint (`pattern`, `format`, `minimum`, ...) added, removed
 *   or changed; `additionalProperties` tightened (to `false`, or from `false` to a schema); a
 *   property added to an object that allowed no others; a changed `if`/`then`/`else`; any change
 *   to a keyword this checker does not know (it fails closed rather than guess).
 * - **Compatible**: a new optional property of an open object; a new enum value (readers must
 *   tolerate values they do not know); `additionalProperties: false` lifted; `title`,
 *   `description`, `$comment`, `examples` and `default` (annotations).
 *
 * `$id` and `$schema` are not compared: the id carries the version, which the caller checks.
 */

/** One way a new schema breaks readers of the old: where (a JSON pointer into the schema), and what. */
export interface BreakingChange {
  path: string;
  problem: string;
}

type Schema = Readonly<Record<string, unknown>>;

/** Annotations: they document and never constrain, so any change to them is compatible. */
const ANNOTATIONS = new Set(['title', 'description', '$comment', 'examples', 'default', '$id', '$schema']);

/** Keywords compared with a rule of their own below; every other one must stay exactly as it was. */
const STRUCTURAL = new Set(['type', 'enum', 'properties', 'required', 'additionalProperties', 'items']);

/** Value constraints: they may neither appear, change nor go away. */
const VALUE_CONSTRAINTS = new Set([
  'const',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
]);

/** Every way `next` breaks readers of `published`; empty when it is a compatible revision. */
export function breakingChanges(published: unknown, next: unknown): BreakingChange[] {
  const found: BreakingChange[] = [];
  compare(asSchema(published), asSchema(next), '', found);
  return found;
}

/** `true` (any value) for a boolean `true` or absent schema, `false` for `false`, else the object. */
function asSchema(value: unknown): Schema | boolean {
  if (value === undefined || value === true) return true;
  if (value === false) return false;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Schema;
  throw new TypeError(`not a JSON Schema: ${JSON.stringify(value)}`);
}

function compare(old: Schema | boolean, next: Schema | boolean, path: string, found: BreakingChange[]): void {
  if (typeof old === 'boolean' || typeof next === 'boolean') {
    if (typeof old === 'boolean' && typeof next === 'boolean') {
      if (old !== next) found.push({ path: path || '/', problem: `changed from ${old} to ${next}` });
      return;
    }
    // `{}` accepts everything, like `true`: only a schema that constrains nothing may replace `true`.
    const constraining = (typeof old === 'boolean' ? next : old) as Schema;
    if (Object.keys(constraining).some((k) => !ANNOTATIONS.has(k)) || old === false || next === false) {
      found.push({ path: path || '/', problem: 'changed between a boolean schema and one with constraints' });
    }
    return;
  }
  compareType(old, next, path, found);
  compareEnum(old, next, path, found);
  compareObject(old, next, path, found);
  if ('items' in old || 'items' in next) {
    compare(asSchema(old.items), asSchema(next.items), `${path}/items`, found);
  }
  const keywords = new Set([...Object.keys(old), ...Object.keys(next)]);
  for (const keyword of keywords) {
    if (ANNOTATIONS.has(keyword) || STRUCTURAL.has(keyword)) continue;
    if (sameJson(old[keyword], next[keyword])) continue;
    const what = VALUE_CONSTRAINTS.has(keyword) ? 'constraint' : 'keyword';
    const change = !(keyword in old) ? 'added' : !(keyword in next) ? 'removed' : 'changed';
    found.push({ path: `${path}/${keyword}`, problem: `${what} ${keyword} ${change}` });
  }
}

function compareType(old: Schema, next: Schema, path: string, found: BreakingChange[]): void {
  const before = typesOf(old.type);
  const after = typesOf(next.type);
  if (before.join() !== after.join()) {
    found.push({
      path: `${path}/type`,
      problem: `type changed from ${before.join(' | ') || 'any'} to ${after.join(' | ') || 'any'}`,
    });
  }
}

function typesOf(type: unknown): string[] {
  if (type === undefined) return [];
  return (Array.isArray(type) ? type : [type]).map((t) => (typeof t === 'string' ? t : JSON.stringify(t))).sort();
}

function compareEnum(old: Schema, next: Schema, path: string, found: BreakingChange[]): void {
  if (!('enum' in old) && !('enum' in next)) return;
  if (!Array.isArray(next.enum)) {
    // Lifting an enum lets any value through: readers relied on the list.
    found.push({ path: `${path}/enum`, problem: 'enum removed' });
    return;
  }
  if (!Array.isArray(old.enum)) {
    found.push({ path: `${path}/enum`, problem: 'enum added' });
    return;
  }
  const nextValues = next.enum as unknown[];
  const removed = (old.enum as unknown[]).filter((value) => !nextValues.some((v) => sameJson(v, value)));
  if (removed.length > 0) {
    found.push({
      path: `${path}/enum`,
      problem: `enum narrowed: ${removed.map((v) => JSON.stringify(v)).join(', ')} removed`,
    });
  }
}

function compareObject(old: Schema, next: Schema, path: string, found: BreakingChange[]): void {
  const oldProperties = (old.properties ?? {}) as Record<string, unknown>;
  const nextProperties = (next.properties ?? {}) as Record<string, unknown>;
  const oldRequired = new Set((old.required ?? []) as string[]);
  const nextRequired = new Set((next.required ?? []) as string[]);
  const oldExtra = asSchema(old.additionalProperties);
  const nextExtra = asSchema(next.additionalProperties);

  for (const name of Object.keys(oldProperties)) {
    if (!(name in nextProperties)) {
      found.push({ path: `${path}/properties/${name}`, problem: `property ${name} removed` });
      continue;
    }
    compare(asSchema(oldProperties[name]), asSchema(nextProperties[name]), `${path}/properties/${name}`, found);
  }
  for (const name of Object.keys(nextProperties)) {
    if (name in oldProperties) continue;
    // A closed object's readers reject what they do not know; an open one's let it through.
    if (oldExtra !== true) {
      found.push({
        path: `${path}/properties/${name}`,
        problem: `property ${name} added where no others were allowed`,
      });
    }
  }
  for (const name of oldRequired) {
    if (!nextRequired.has(name) && name in nextProperties) {
      found.push({ path: `${path}/required`, problem: `property ${name} no longer required` });
    }
  }
  for (const name of nextRequired) {
    if (!oldRequired.has(name)) found.push({ path: `${path}/required`, problem: `property ${name} newly required` });
  }
  if (oldExtra === true && nextExtra === true) return;
  if (oldExtra === false && nextExtra === true) return; // lifted: every old message still fits
  if (oldExtra !== false && nextExtra === false) {
    found.push({ path: `${path}/additionalProperties`, problem: 'additionalProperties tightened to false' });
    return;
  }
  compare(oldExtra, nextExtra, `${path}/additionalProperties`, found);
}

/** Equality of JSON values, object keys in any order. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return (
    ka.length === kb.length &&
    ka.every((k, i) => k === kb[i] && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}
