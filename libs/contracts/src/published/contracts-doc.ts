import { schemaFileName, type PublishedContract } from './published-contracts';

type Schema = Readonly<Record<string, unknown>>;

/** One row of a message's field table. */
interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  meaning: string;
}

/** What the patterns of the schemas mean, in words. */
const PATTERN_MEANING: Readonly<Record<string, string>> = {
  '^\\d+$': 'numeric string',
  '\\S': 'non-blank string',
};

/** What a compatible change and a breaking one are, and how a new version is published. */
const VERSIONING = `## Versioning

Each message has a JSON Schema, versioned by major version: \`libs/contracts/schemas/<name>.v<N>.json\`,
\`$id\` \`urn:asana-stream:contract:<name>:v<N>\`. Code imports the same schemas from
\`@asana-stream/contracts\` (\`PUBLISHED_CONTRACTS\`); their TypeScript types are derived from them.

- **Compatible** (same version, the file rewritten): a new optional field; a new enum value; a
  constraint lifted from \`additionalProperties: false\`; descriptions and titles. Readers must
  therefore ignore fields they do not know and treat an enum value they do not know as something to
  skip, not a failure: the schemas are open (no \`additionalProperties: false\`) for this reason.
- **Breaking** (a new version): a field removed, renamed, retyped or made optional; a new required
  field; an enum value removed; a value's format or pattern changed; \`additionalProperties\`
  tightened; a changed condition between fields.
- **A new version** gets a new file \`<name>.v<N+1>.json\` beside the old one, which stays published:
  messages of the old version stay on the topic for its retention. A change message says its
  version in its \`schema\` field, so a reader can tell the two apart. \`asana.events\` and
  \`asana.state\` values carry no version field, so a new version of them goes to a new topic
  (\`asana.state.v2\`) written alongside the old one until its readers have moved.
- **Announcing**: the change that adds a version regenerates this page (both versions listed) and
  says in its release notes which version the producers write from which release on, and until
  when the old one is still written. Readers should validate against the schema of the version
  they were built for and alert on a \`schema\` they do not know.
- **Enforced** by \`libs/contracts/src/published/published-contracts.spec.ts\`: it fails when a
  schema changes in a way that breaks its readers and its version was not bumped, when an old
  version's file is gone, or when the files or this page are not current
  (\`npm run contracts:write\` writes both).`;

/** The Markdown of docs/contracts.md: every published message, from its schema. Not yet formatted. */
export function renderContractsDoc(contracts: readonly PublishedContract[]): string {
  const parts: string[] = [
    '# Published contracts',
    '',
    '<!-- Generated from libs/contracts/src/validation/schemas.ts by `npm run contracts:write`; do not edit. -->',
    '',
    'The messages downstream teams may read, each with its topic, key, headers and fields. Values are',
    'UTF-8 JSON objects; header values are UTF-8 strings.',
    '',
    '| message | topic | schema |',
    '| --- | --- | --- |',
    ...contracts.map(
      (c) =>
        `| [${c.schema.title}](#${anchor(c.schema.title)}) | ${c.topic} | [${schemaFileName(c.name, c.version)}](../libs/contracts/schemas/${schemaFileName(c.name, c.version)}) |`,
    ),
    '',
    VERSIONING,
  ];
  for (const contract of contracts) parts.push('', ...renderContract(contract));
  return `${parts.join('\n')}\n`;
}

function renderContract(contract: PublishedContract): string[] {
  const schema = contract.schema as unknown as Schema;
  const lines = [
    `## ${contract.schema.title}`,
    '',
    contract.schema.description,
    '',
    `- **Topic**: ${contract.topic} (${contract.topicNote})`,
    `- **Key**: ${contract.key}`,
    `- **Schema**: version ${contract.version}, \`${contract.schema.$id}\`, [${schemaFileName(contract.name, contract.version)}](../libs/contracts/schemas/${schemaFileName(contract.name, contract.version)})`,
    '',
    '### Headers',
    '',
    '| header | present | format | meaning |',
    '| --- | --- | --- | --- |',
    ...contract.headers.map(
      (h) =>
        `| \`${h.name}\` | ${h.always ? 'always' : 'when set'} | ${h.pattern ? `\`${h.pattern}\`` : 'string'} | ${cell(h.description)} |`,
    ),
    '',
    '### Fields',
    '',
    '| field | type | required | meaning |',
    '| --- | --- | --- | --- |',
    ...fieldRows(schema, '').map(
      (row) => `| \`${row.path}\` | ${cell(row.type)} | ${row.required ? 'yes' : 'no'} | ${cell(row.meaning)} |`,
    ),
  ];
  const condition = conditionText(schema);
  if (condition) lines.push('', condition);
  return lines;
}

function fieldRows(schema: Schema, prefix: string): FieldRow[] {
  const rows: FieldRow[] = [];
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema.required ?? []) as string[]);
  for (const [name, property] of Object.entries(properties)) {
    const path = `${prefix}${name}`;
    rows.push({ path, type: typeText(property), required: required.has(name), meaning: meaning(property) });
    rows.push(...nestedRows(property, path));
  }
  return rows;
}

/** The rows inside a field: an object's own fields, or a map's values (`changes.<field>`). */
function nestedRows(property: Schema, path: string): FieldRow[] {
  if (property.properties) return fieldRows(property, `${path}.`);
  const values = property.additionalProperties;
  if (typeof values === 'object' && values !== null) {
    const value = values as Schema;
    return [
      { path: `${path}.<field>`, type: typeText(value), required: false, meaning: meaning(value) },
      ...nestedRows(value, `${path}.<field>`),
    ];
  }
  return [];
}

function typeText(schema: Schema): string {
  if ('const' in schema) return `\`${JSON.stringify(schema.const)}\``;
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  const types = schema.type === undefined ? [] : (Array.isArray(schema.type) ? schema.type : [schema.type]).map(String);
  if (types.length === 0) return 'any JSON value';
  return types
    .map((type) => {
      if (type === 'string') {
        if (schema.format === 'date-time') return 'date-time string (RFC 3339, with offset)';
        if (typeof schema.pattern === 'string')
          return PATTERN_MEANING[schema.pattern] ?? `string matching \`${schema.pattern}\``;
      }
      if (type === 'integer' && typeof schema.minimum === 'number') return `integer ≥ ${schema.minimum}`;
      if (type === 'array') {
        const items = schema.items as Schema | undefined;
        return items ? `array of ${typeText(items)}` : 'array';
      }
      if (type === 'object') {
        if (schema.title === 'AsanaResource') return 'object (an Asana resource)';
        if (typeof schema.additionalProperties === 'object') return 'object (a map by field name)';
      }
      return type;
    })
    .join(' or ');
}

function meaning(schema: Schema): string {
  return typeof schema.description === 'string' ? schema.description : '';
}

/** The schema's `if`/`then` between fields, in words (the forms our schemas use). */
function conditionText(schema: Schema): string | undefined {
  const when = (schema.if as Schema | undefined)?.properties as Record<string, Schema> | undefined;
  const then = (schema.then as Schema | undefined)?.properties as Record<string, Schema> | undefined;
  if (!when || !then) return undefined;
  const [field, test] = Object.entries(when)[0];
  const value =
    'const' in test
      ? `\`${JSON.stringify(test.const)}\``
      : `one of ${(test.enum as unknown[]).map((v) => `\`${String(v)}\``).join(', ')}`;
  const [target, rule] = Object.entries(then)[0];
  return `When \`${field}\` is ${value}, \`${target}\` is ${typeText(rule) === 'object' ? 'an object (never null)' : typeText(rule)}.`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}
