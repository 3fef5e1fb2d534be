import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseExposition, sumOf, type Exposition } from '@asana-stream/metrics';

/*
 * What an operator's Prometheus sees of the pipeline: each app's `GET /metrics`, parsed with
 * libs/metrics' strict parser, and the metrics table of docs/architecture.md, read from the docs
 * themselves so that the docs and the tests that hold the apps to them cannot drift apart.
 */

export const PIPELINE_APPS = ['ingest', 'enricher', 'projector', 'fanout'] as const;
export type PipelineAppName = (typeof PIPELINE_APPS)[number];

export const ARCHITECTURE_DOC = join(__dirname, '../../docs/architecture.md');

/** One row of the metrics table. */
export interface DocumentedMetric {
  name: string;
  type: string;
  /** Label names, `app` (on every sample) not included. */
  labels: string[];
  /** The meaning column as written. */
  meaning: string;
}

/**
 * The rows of the table under `## Metrics` in docs/architecture.md, in order. Throws on a row
 * of that table it cannot read, so a reworded table fails loudly instead of checking nothing.
 */
export function documentedMetrics(path = ARCHITECTURE_DOC): DocumentedMetric[] {
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf('\n## Metrics\n');
  if (start < 0) throw new Error(`${path} has no "## Metrics" section`);
  const end = text.indexOf('\n## ', start + 1);
  const lines = text.slice(start, end < 0 ? undefined : end).split('\n');
  const header = lines.findIndex((line) => /^\|\s*metric\s*\|\s*type\s*\|\s*labels\s*\|\s*meaning\s*\|$/.test(line));
  if (header < 0) throw new Error(`the Metrics section of ${path} has no "| metric | type | labels | meaning |" table`);
  const rows: DocumentedMetric[] = [];
  // The table: the header, its delimiter row, then every line up to the first that is not a row.
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
    const name = /^`(asana_stream_[a-z0-9_]+)`$/.exec(cells[0] ?? '')?.[1];
    const type = cells[1];
    const labels = cells[2] === '' ? [] : (cells[2] ?? '').split(',').map((label) => label.trim());
    if (
      cells.length !== 4 ||
      !name ||
      !['counter', 'gauge', 'histogram'].includes(type) ||
      !labels.every((label) => /^`[a-z_]+`$/.test(label))
    ) {
      throw new Error(`cannot read this row of the metrics table in ${path}:\n${line}`);
    }
    rows.push({ name, type, labels: labels.map((label) => label.slice(1, -1)), meaning: cells[3] });
  }
  return rows;
}

/** What each app does with Kafka, as its readiness checks say (`GET /health/ready`). */
export interface AppRoles {
  consumes: PipelineAppName[];
  publishes: PipelineAppName[];
}

/**
 * libs/kafka's metrics (the consumer transport's, the publisher's, the dead-letter depth): they
 * register wherever the library is loaded, so every app declares them; the apps that use that part
 * of the library are the ones with samples.
 */
export const fromKafkaLibrary = (name: string): boolean => /^asana_stream_(kafka|dead_letters)_/.test(name);

/** Metric name prefixes whose owner the docs give by the library that makes them, not in the meaning. */
const BY_PREFIX: [prefix: string, owners: (roles: AppRoles) => PipelineAppName[]][] = [
  ['asana_stream_kafka_consumer_', (roles) => roles.consumes],
  ['asana_stream_dead_letters_', (roles) => roles.consumes],
  ['asana_stream_kafka_publish_', (roles) => roles.publishes],
  ['asana_stream_kafka_producer_', (roles) => roles.publishes],
  ['asana_stream_ingest_', () => ['ingest']],
  ['asana_stream_projector_', () => ['projector']],
  ['asana_stream_fanout_', () => ['fanout']],
];

/**
 * Which apps expose each documented metric, as the docs say: a meaning that starts with an app's
 * name (`enricher: ...`) names it, one that starts with `the same` is the row above's, and
 * otherwise the metric's prefix says (the consumer transport's metrics are every consuming
 * app's, the publisher's every publishing app's, `asana_stream_ingest_*` ingest's, ...).
 */
export function documentedExposers(rows: DocumentedMetric[], roles: AppRoles): Map<string, PipelineAppName[]> {
  const exposers = new Map<string, PipelineAppName[]>();
  let previous: PipelineAppName[] | undefined;
  for (const row of rows) {
    const named = /^(ingest|enricher|projector|fanout)\b/.exec(row.meaning)?.[1] as PipelineAppName | undefined;
    const byPrefix = BY_PREFIX.find(([prefix]) => row.name.startsWith(prefix))?.[1](roles);
    const apps = named ? [named] : /^the same\b/.test(row.meaning) ? previous : byPrefix;
    if (!apps || apps.length === 0) {
      throw new Error(
        `the metrics table names no app for ${row.name}: start its meaning with the app ("enricher: ...") or give its prefix an owner in test/e2e/metrics-scrape.ts`,
      );
    }
    exposers.set(row.name, apps);
    previous = apps;
  }
  return exposers;
}

/** The apps' roles from their readiness checks: `kafka-consumer` for a consumer, `kafka-producer` for a publisher. */
export async function appRoles(urls: Record<PipelineAppName, string>): Promise<AppRoles> {
  const roles: AppRoles = { consumes: [], publishes: [] };
  for (const app of PIPELINE_APPS) {
    const response = await fetch(`${urls[app]}/health/ready`);
    const body = (await response.json()) as { info?: Record<string, unknown> };
    if (response.status !== 200) throw new Error(`${app} is not ready: ${JSON.stringify(body)}`);
    if (body.info?.['kafka-consumer']) roles.consumes.push(app);
    if (body.info?.['kafka-producer']) roles.publishes.push(app);
  }
  return roles;
}

/** One scrape of every app, by app. */
export type Scrape = Record<PipelineAppName, Exposition>;

/** `GET /metrics` of one app, parsed (the parser throws on any line Prometheus would not take). */
export async function scrapeApp(url: string): Promise<Exposition> {
  const response = await fetch(`${url}/metrics`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url}/metrics answered ${response.status}: ${text}`);
  const type = response.headers.get('content-type') ?? '';
  if (!/^text\/plain;.*\bversion=0\.0\.4\b/.test(type))
    throw new Error(`GET ${url}/metrics is ${type}, not text 0.0.4`);
  return parseExposition(text);
}

/** Every app scraped at (nearly) the same moment. */
export async function scrapeApps(urls: Record<PipelineAppName, string>): Promise<Scrape> {
  const expositions = await Promise.all(PIPELINE_APPS.map((app) => scrapeApp(urls[app])));
  return Object.fromEntries(PIPELINE_APPS.map((app, i) => [app, expositions[i]])) as Scrape;
}

/** How far the sum of the samples `name{labels}` of `app` moved from one scrape to the next. */
export function moved(
  before: Scrape,
  after: Scrape,
  app: PipelineAppName,
  name: string,
  labels: Record<string, string> = {},
): number {
  return sumOf(after[app], name, labels) - sumOf(before[app], name, labels);
}

/** The `asana_stream_` families an exposition declares (a `# TYPE` line), with their type. */
export function declaredFamilies(exposition: Exposition): Map<string, string> {
  return new Map([...exposition.types].filter(([name]) => name.startsWith('asana_stream_')));
}
