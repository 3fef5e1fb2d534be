/** One sample of a Prometheus text exposition. */
export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** A parsed exposition: its samples in order, and each family's declared type and help. */
export interface Exposition {
  samples: Sample[];
  types: ReadonlyMap<string, string>;
  help: ReadonlyMap<string, string>;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const COMMENT = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`);
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = new RegExp(`^(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"(,|$)`);
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** Suffixes a sample may add to its family's name, by the family's type. */
const SUFFIXES: Record<string, string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['_sum', '_count'],
};

/** A sample's value as Prometheus reads it (Go's ParseFloat: `NaN`, `Inf` in any case, prom-client writes `Nan`). */
function parseValue(text: string, line: number): number {
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text);
  if (special) {
    if (special[2].toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value '${text}'`);
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const match = LABEL.exec(rest);
    if (!match) throw new Error(`line ${line}: bad labels '${text}'`);
    const [whole, name, escaped, comma] = match;
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    labels[name] = escaped.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
    if (comma === ',' && rest.length === 0) break; // a trailing comma is allowed
  }
  return labels;
}

/** The family a sample belongs to: its own name, or that name less a suffix its family's type allows. */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const suffix of suffixes) {
      const base = name.slice(0, -suffix.length);
      if (name.endsWith(suffix) && types.get(base) === type) return base;
    }
  }
  return undefined;
}

/**
 * Parses Prometheus' text format (0.0.4) strictly, throwing on the first line that is not
 * one: `# HELP`/`# TYPE` lines, samples `name{label="value",...} value [timestamp]`. A sample
 * must follow its family's `# TYPE` (as prom-client writes them), a histogram's buckets carry
 * `le`, and no family is declared twice. For tests and tools reading `GET /metrics`.
 */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const match = COMMENT.exec(raw);
      if (!match) return; // a plain comment
      const [, keyword, name, rest = ''] = match;
      if (keyword === 'HELP') {
        if (help.has(name)) throw new Error(`line ${line}: HELP for ${name} twice`);
        help.set(name, rest);
      } else {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type '${rest}'`);
        if (types.has(name)) throw new Error(`line ${line}: TYPE for ${name} twice`);
        types.set(name, rest);
      }
      return;
    }
    const match = SAMPLE.exec(raw);
    if (!match) throw new Error(`line ${line}: not a sample: '${raw}'`);
    const [, name, labelText = '', valueText] = match;
    const family = familyOf(name, types);
    if (family === undefined) throw new Error(`line ${line}: ${name} has no # TYPE before it`);
    const labels = parseLabels(labelText, line);
    if (name === `${family}_bucket` && labels.le === undefined) throw new Error(`line ${line}: a bucket without le`);
    samples.push({ name, labels, value: parseValue(valueText, line) });
  });
  return { samples, types, help };
}

/** The samples named `name` whose labels include every one of `labels`. */
export function samplesOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  const wanted = Object.entries(labels);
  return exposition.samples.filter(
    (sample) => sample.name === name && wanted.every(([key, value]) => sample.labels[key] === value),
  );
}

/** The sum of the samples `samplesOf` finds: 0 when there is none (a counter not yet moved). */
export function sumOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(exposition, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}
