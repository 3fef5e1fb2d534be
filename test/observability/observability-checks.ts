import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { Histogram, Summary } from 'prom-client';
import { metricsRegistry, startProcessMetrics } from '@asana-stream/metrics';

/*
 * Offline checks of observability/: the Prometheus rules and the Grafana dashboards against the
 * metrics the apps expose. Each check returns its problems as sentences (empty: fine), so a spec
 * can show them all at once, and can feed a deliberately broken rule to prove a check bites.
 */

export const REPO_ROOT = join(__dirname, '..', '..');
export const OBSERVABILITY_DIR = join(REPO_ROOT, 'observability');

/** A metric the rules and dashboards may select, with the labels its samples can carry. */
export interface KnownSeries {
  /** Label names a selector may match on; undefined: not known (a recorded series), not checked. */
  labels?: ReadonlySet<string>;
}

/** Labels every scraped sample carries besides its own: the bootstrap's `app`, Prometheus' target. */
const TARGET_LABELS = ['app', 'job', 'instance'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (entry === 'node_modules' || entry === 'dist') return [];
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry) && !/\.(spec|int-spec|e2e-spec|d)\.ts$/.test(entry) ? [path] : [];
  });
}

/** The files under apps/ and libs/ that make metrics (they call libs/metrics' counter, gauge or histogram). */
export function metricModules(): string[] {
  return ['apps', 'libs']
    .flatMap((dir) => sourceFiles(join(REPO_ROOT, dir)))
    .filter((file) => /\b(counter|gauge|histogram)(<[^>]*>)?\(\{/.test(readFileSync(file, 'utf8')))
    .filter((file) => !file.startsWith(join(REPO_ROOT, 'libs', 'metrics')));
}

/**
 * Every metric name the sources under apps/ and libs/ declare (`name: 'asana_stream_...'`, or a
 * gauge helper's first argument), read from all their text: what metricModules() might miss.
 */
export function declaredMetricNames(): string[] {
  return ['apps', 'libs']
    .flatMap((dir) => sourceFiles(join(REPO_ROOT, dir)))
    .flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/(?:name: |Gauge\(\s*)['"](asana_stream_[a-z0-9_]+)['"]/g)].map(
        (match) => match[1],
      ),
    );
}

/**
 * The series a scrape of any app can hold: every metric module is loaded so its metrics register
 * in libs/metrics' registry, with prom-client's process metrics as the bootstrap starts them; a
 * histogram adds its `_bucket`, `_sum` and `_count`. Plus Prometheus' own `up`.
 */
export async function exposedSeries(): Promise<Map<string, KnownSeries>> {
  for (const file of metricModules()) await import(file);
  startProcessMetrics('observability-checks');
  const known = new Map<string, KnownSeries>([['up', { labels: new Set(['job', 'instance']) }]]);
  for (const metric of metricsRegistry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const labels = new Set([...labelNames, ...TARGET_LABELS]);
    if (metric instanceof Histogram) {
      known.set(`${name}_bucket`, { labels: new Set([...labels, 'le']) });
      known.set(`${name}_sum`, { labels });
      known.set(`${name}_count`, { labels });
    } else if (metric instanceof Summary) {
      known.set(name, { labels: new Set([...labels, 'quantile']) });
      known.set(`${name}_sum`, { labels });
      known.set(`${name}_count`, { labels });
    } else {
      known.set(name, { labels });
    }
  }
  return known;
}

/** What a PromQL expression selects, or why it does not parse. */
export interface ParsedExpression {
  /** Where the parser gave up, as a sentence; undefined when the whole expression parsed. */
  syntaxError?: string;
  /** A range vector where an instant one is needed, or the other way round. */
  typeError?: string;
  selectors: { metric: string | undefined; labels: string[] }[];
  /** Labels an aggregation keeps (`by (...)`), over every aggregation of the expression. */
  groupingLabels: Set<string>;
  hasAggregation: boolean;
}

/** PromQL's functions that take a range vector. */
const RANGE_FUNCTIONS =
  /^(rate|irate|increase|delta|idelta|deriv|changes|resets|predict_linear|holt_winters|double_exponential_smoothing|absent_over_time|present_over_time|[a-z]+_over_time)$/;

const unquote = (text: string) => (/^["'`]/.test(text) ? text.slice(1, -1) : text);

/** Parses `expr` with Prometheus' own Lezer grammar (@prometheus-io/lezer-promql, what its UI uses). */
export function parsePromQL(expr: string): ParsedExpression {
  const parsed: ParsedExpression = { selectors: [], groupingLabels: new Set(), hasAggregation: false };
  if (expr.trim() === '') return { ...parsed, syntaxError: 'the expression is empty' };
  const tree = parser.parse(expr);
  const text = (node: { from: number; to: number }) => expr.slice(node.from, node.to);
  tree.iterate({
    enter: (ref) => {
      if (ref.type.isError && parsed.syntaxError === undefined) {
        parsed.syntaxError = `does not parse at offset ${ref.from}: '${expr.slice(Math.max(0, ref.from - 20), ref.from + 20)}'`;
      }
      if (ref.name === 'AggregateExpr') parsed.hasAggregation = true;
      // The grammar is syntax only; these two type errors are the ones worth catching here.
      if (ref.name === 'FunctionCall' && parsed.typeError === undefined) {
        const fn = ref.node.getChild('FunctionIdentifier');
        const args = ref.node.getChild('FunctionCallBody');
        const ranged = args?.getChild('MatrixSelector') ?? args?.getChild('SubqueryExpr');
        if (fn && RANGE_FUNCTIONS.test(text(fn)) && !ranged)
          parsed.typeError = `${text(fn)}() needs a range vector, such as metric[5m]`;
      }
      if (
        ref.name === 'MatrixSelector' &&
        ref.node.parent?.name !== 'FunctionCallBody' &&
        parsed.typeError === undefined
      )
        parsed.typeError = `a range vector (${text(ref)}) outside a function that takes one`;
      if (ref.name === 'GroupingLabels' && ref.node.parent?.name === 'AggregateModifier') {
        const modifier = ref.node.parent.firstChild;
        if (modifier?.name === 'By')
          for (const label of ref.node.getChildren('LabelName')) parsed.groupingLabels.add(text(label));
      }
      if (ref.name !== 'VectorSelector') return;
      const identifier = ref.node.getChild('Identifier');
      let metric = identifier ? text(identifier) : undefined;
      const labels: string[] = [];
      for (const matcher of ref.node.getChild('LabelMatchers')?.getChildren('UnquotedLabelMatcher') ?? []) {
        const name = matcher.getChild('LabelName');
        if (!name) continue;
        if (text(name) === '__name__') {
          const value = matcher.getChild('StringLiteral');
          if (value) metric = unquote(text(value));
        } else {
          labels.push(text(name));
        }
      }
      parsed.selectors.push({ metric, labels });
    },
  });
  return parsed;
}

/** Problems of one expression: it must parse and select only known series, on labels they have. */
export function checkExpression(expr: unknown, known: ReadonlyMap<string, KnownSeries>): string[] {
  if (typeof expr !== 'string') return ['expr is not a string'];
  const parsed = parsePromQL(expr);
  const problems: string[] = [];
  if (parsed.syntaxError) problems.push(`PromQL ${parsed.syntaxError}`);
  if (parsed.typeError) problems.push(`PromQL type error: ${parsed.typeError}`);
  for (const { metric, labels } of parsed.selectors) {
    if (metric === undefined) {
      problems.push('selects series without naming a metric');
      continue;
    }
    const series = known.get(metric);
    if (!series) {
      problems.push(`selects ${metric}, which no app exposes and no rule records`);
      continue;
    }
    for (const label of labels)
      if (series.labels && !series.labels.has(label)) problems.push(`matches label ${label}, which ${metric} has not`);
  }
  return problems;
}

/** A Prometheus rule file (https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/). */
export interface RuleFile {
  groups: RuleGroup[];
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}
export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const DURATION = /^((\d+)(ms|s|m|h|d|w|y))+$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const GROUP_KEYS = new Set(['name', 'interval', 'rules', 'limit', 'query_offset', 'labels']);
const RULE_KEYS = new Set(['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);
export const SEVERITIES = new Set(['critical', 'warning', 'info']);
const RUNBOOK = /(?:^|\/)(docs\/runbooks\/[a-z0-9-]+\.md)(?:#[a-z0-9-]+)?$/;

/** The names the rule files record, as series the other rules and the dashboards may select. */
export function recordedSeries(files: readonly unknown[]): Map<string, KnownSeries> {
  const recorded = new Map<string, KnownSeries>();
  for (const file of files)
    for (const group of (file as Partial<RuleFile>)?.groups ?? [])
      for (const rule of group?.rules ?? []) if (typeof rule?.record === 'string') recorded.set(rule.record, {});
  return recorded;
}

/**
 * Problems of one parsed rule file: Prometheus' rule-group shape (groups with unique names and
 * rules that each record or alert, with an expr and durations it accepts); every expr parses and
 * selects known series; every alert has a severity, a summary, a description and a runbook_url
 * naming a page of docs/runbooks/ that exists, and its annotations use only labels its expr keeps.
 */
export function checkRuleFile(file: unknown, known: ReadonlyMap<string, KnownSeries>): string[] {
  const problems: string[] = [];
  const groups = (file as Partial<RuleFile> | null)?.groups;
  if (!Array.isArray(groups) || groups.length === 0) return ['has no `groups` list'];
  const groupNames = new Set<string>();
  for (const group of groups) {
    const where = `group ${JSON.stringify(group?.name)}`;
    if (typeof group?.name !== 'string' || group.name === '') problems.push(`${where}: has no name`);
    else if (groupNames.has(group.name)) problems.push(`${where}: its name is used twice`);
    else groupNames.add(group.name);
    for (const key of Object.keys(group ?? {})) if (!GROUP_KEYS.has(key)) problems.push(`${where}: unknown key ${key}`);
    if (group?.interval !== undefined && !DURATION.test(String(group.interval)))
      problems.push(`${where}: interval ${group.interval} is not a duration`);
    if (!Array.isArray(group?.rules) || group.rules.length === 0) {
      problems.push(`${where}: has no rules`);
      continue;
    }
    for (const rule of group.rules) problems.push(...checkRule(rule, known).map((p) => `${where}: ${p}`));
  }
  return problems;
}

function checkRule(rule: Rule, known: ReadonlyMap<string, KnownSeries>): string[] {
  const name = rule?.alert ?? rule?.record;
  const where = rule?.alert !== undefined ? `alert ${name}` : `record ${name}`;
  const problems: string[] = [];
  const say = (problem: string) => problems.push(`${where}: ${problem}`);
  if ((rule?.alert === undefined) === (rule?.record === undefined)) say('needs exactly one of alert and record');
  for (const key of Object.keys(rule ?? {})) if (!RULE_KEYS.has(key)) say(`unknown key ${key}`);
  for (const problem of checkExpression(rule?.expr, known)) say(problem);
  for (const key of ['for', 'keep_firing_for'] as const)
    if (rule?.[key] !== undefined && !DURATION.test(String(rule[key]))) say(`${key} ${rule[key]} is not a duration`);
  for (const label of Object.keys(rule?.labels ?? {})) if (!LABEL_NAME.test(label)) say(`bad label name ${label}`);
  if (rule?.record !== undefined) {
    if (!METRIC_NAME.test(rule.record)) say('records a name that is not a metric name');
    if (rule.for !== undefined || rule.annotations !== undefined) say('a recording rule has no for or annotations');
    return problems;
  }
  if (!SEVERITIES.has(rule?.labels?.severity ?? '')) say(`severity must be one of ${[...SEVERITIES].join(', ')}`);
  const annotations = rule?.annotations ?? {};
  for (const key of ['summary', 'description', 'runbook_url'])
    if (typeof annotations[key] !== 'string' || annotations[key].trim() === '') say(`has no ${key}`);
  const runbook = RUNBOOK.exec(annotations.runbook_url ?? '');
  if (annotations.runbook_url !== undefined) {
    if (!runbook) say(`runbook_url ${annotations.runbook_url} is not a page of docs/runbooks/`);
    else if (!existsSync(join(REPO_ROOT, runbook[1]))) say(`runbook_url names ${runbook[1]}, which does not exist`);
  }
  if (typeof rule?.expr === 'string') {
    const parsed = parsePromQL(rule.expr);
    for (const text of Object.values(annotations)) {
      for (const [, label] of String(text).matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g)) {
        if (parsed.hasAggregation && !parsed.groupingLabels.has(label))
          say(`its annotations use $labels.${label}, which the expression aggregates away`);
      }
    }
  }
  return problems;
}

/** Grafana's variables the dashboards use, with a value of the kind Grafana puts in their place. */
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '1m',
  __range: '6h',
};

/** The expression Prometheus gets from Grafana: its variables replaced; an unknown one is a problem. */
export function interpolateGrafana(expr: string): { expr: string; unknown: string[] } {
  const unknown: string[] = [];
  const out = expr.replace(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?/g, (whole, name: string) => {
    if (name in GRAFANA_VARIABLES) return GRAFANA_VARIABLES[name];
    unknown.push(whole);
    return whole;
  });
  return { expr: out, unknown };
}

/** A Grafana panel as the dashboards' JSON holds it (the part the checks read). */
export interface Panel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string } | string | null;
  panels?: Panel[];
  targets?: {
    refId?: string;
    expr?: string;
    legendFormat?: string;
    datasource?: { type?: string; uid?: string } | string;
  }[];
}

/** Every panel of a dashboard, the ones inside rows included. */
export function allPanels(dashboard: { panels?: Panel[] }): Panel[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...allPanels(panel)]);
}

/**
 * Problems of one dashboard: a uid and title; every panel but a row has queries, each on a
 * provisioned datasource, parsing (after Grafana's variables) and selecting known series.
 */
export function checkDashboard(
  dashboard: unknown,
  known: ReadonlyMap<string, KnownSeries>,
  datasourceUids: ReadonlySet<string>,
): string[] {
  const board = dashboard as { uid?: unknown; title?: unknown; panels?: Panel[] };
  const problems: string[] = [];
  if (typeof board?.uid !== 'string' || board.uid === '') problems.push('has no uid');
  if (typeof board?.title !== 'string' || board.title === '') problems.push('has no title');
  const ids = new Set<number>();
  for (const panel of allPanels(board)) {
    const where = `panel ${JSON.stringify(panel.title)}`;
    if (typeof panel.id !== 'number' || ids.has(panel.id)) problems.push(`${where}: needs an id of its own`);
    else ids.add(panel.id);
    if (panel.type === 'row') continue;
    const sources = [panel.datasource, ...(panel.targets ?? []).map((target) => target.datasource)];
    for (const source of sources) {
      const uid = typeof source === 'object' && source !== null ? source.uid : source;
      if (!datasourceUids.has(String(uid)))
        problems.push(`${where}: datasource ${String(uid)} is not one the provisioning declares`);
    }
    if (!panel.targets?.length) problems.push(`${where}: has no queries`);
    for (const target of panel.targets ?? []) {
      const { expr, unknown } = interpolateGrafana(target.expr ?? '');
      for (const variable of unknown) problems.push(`${where} ${target.refId}: unknown variable ${variable}`);
      for (const problem of checkExpression(expr, known)) problems.push(`${where} ${target.refId}: ${problem}`);
      for (const label of legendLabelsLost(expr, target.legendFormat ?? '', known))
        problems.push(`${where} ${target.refId}: its legend uses {{${label}}}, which the query's series do not carry`);
    }
  }
  return problems;
}

/** The labels a legend names that the query's result cannot have (aggregated away, or never there). */
function legendLabelsLost(expr: string, legend: string, known: ReadonlyMap<string, KnownSeries>): string[] {
  const parsed = parsePromQL(expr);
  const wanted = [...legend.matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((match) => match[1]);
  return wanted.filter((label) =>
    parsed.hasAggregation
      ? !parsed.groupingLabels.has(label)
      : parsed.selectors.some(({ metric }) => {
          const labels = metric === undefined ? undefined : known.get(metric)?.labels;
          return labels !== undefined && !labels.has(label);
        }),
  );
}

/** Files of `dir` (relative to the repository) ending in one of `extensions`. */
export function filesIn(dir: string, extensions: string[]): string[] {
  return readdirSync(dir)
    .filter((file) => extensions.some((extension) => file.endsWith(extension)))
    .map((file) => relative(REPO_ROOT, join(dir, file)))
    .sort();
}
