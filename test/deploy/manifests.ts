import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { envVariablesOf, type AppName } from '@asana-stream/config';

/*
 * Readers for the deployment manifests (docker-compose.yml, k8s/) that deploy-manifests.spec.ts checks,
 * and the one place that knows which manifest entry runs which app.
 */

export const REPO_ROOT = join(__dirname, '..', '..');

/** Where each app of APP_CONFIG_PARTS runs: its compose service and its Kubernetes workload. */
export const APP_PLACEMENT: Record<AppName, { compose: string; k8s: { kind: 'Deployment' | 'Job'; name: string } }> = {
  ingest: { compose: 'ingest', k8s: { kind: 'Deployment', name: 'ingest' } },
  enricher: { compose: 'enricher', k8s: { kind: 'Deployment', name: 'enricher' } },
  projector: { compose: 'projector', k8s: { kind: 'Deployment', name: 'projector' } },
  fanout: { compose: 'fanout', k8s: { kind: 'Deployment', name: 'fanout' } },
  cli: { compose: 'setup', k8s: { kind: 'Job', name: 'setup' } },
};

/** Standard OpenTelemetry SDK variables every app needs besides its own configuration. */
export const OTEL_ENV = ['OTEL_SERVICE_NAME', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL'];

/**
 * The environment variables an app reads: every validated property of its config classes. The
 * loader validates with `whitelist: true`, so a property without a validator is never read.
 */
export function envVarsReadBy(app: AppName): string[] {
  return envVariablesOf(app).map((variable) => variable.name);
}

// ---------------------------------------------------------------- docker compose

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  ports?: (string | number)[];
  [key: string]: unknown;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function readCompose(): ComposeFile {
  // Compose honours YAML merge keys (`<<: *anchor`); so must the parser.
  return parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
}

/**
 * Compose's variable interpolation with no variables set: `${X:-d}` / `${X-d}` give d, `$$` is a
 * literal `$`; a bare `${X}` or `$X` is undefined (compose would warn and substitute ""), which the
 * callers report as not set.
 */
export function interpolate(value: string): string | undefined {
  let unset = false;
  const out = value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, _braced: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (match === '$$') return '$';
      if (op === ':-' || op === '-') return arg ?? '';
      unset = true;
      return '';
    },
  );
  return unset ? undefined : out;
}

/** A compose service's environment with defaults interpolated; a key without a usable value maps to undefined. */
export function composeEnv(service: ComposeService): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const raw = service.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, undefined] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw);
  for (const [key, value] of entries) {
    const scalar = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    env.set(key, scalar ? interpolate(String(value)) : undefined);
  }
  return env;
}

/** A service's command as an argument list (compose also accepts a shell-split string). */
export function composeCommand(service: ComposeService): string[] {
  const { command } = service;
  if (command === undefined) return [];
  return Array.isArray(command) ? command : command.split(/\s+/).filter(Boolean);
}

export function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

// ---------------------------------------------------------------- Kubernetes

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: unknown;
}

interface KeyRef {
  name: string;
  key: string;
  optional?: boolean;
}
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { configMapKeyRef?: KeyRef; secretKeyRef?: KeyRef; fieldRef?: unknown; resourceFieldRef?: unknown };
}
export interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name: string; optional?: boolean };
  secretRef?: { name: string; optional?: boolean };
}
export interface Probe {
  httpGet?: { path?: string; port: number | string };
  tcpSocket?: unknown;
  exec?: unknown;
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
}
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
export interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
    template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  };
}
export interface Service extends K8sObject {
  spec: { selector?: Record<string, string>; ports: { port: number; targetPort?: number | string }[] };
}

/** Every document of one YAML file (a `---`-separated stream); throws on a syntax error. */
export function parseYamlStream(text: string, source: string): unknown[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

export function yamlFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)))
    .sort();
}

/**
 * The objects a kustomization lists under `resources`, read straight from its files (no kustomize):
 * only plain files and sub-kustomizations, which is all the base uses.
 */
export function readKustomizationResources(dir: string): K8sObject[] {
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  return (kustomization.resources ?? []).flatMap((entry) => {
    const path = join(dir, entry);
    if (existsSync(join(path, 'kustomization.yaml'))) return readKustomizationResources(path);
    return parseYamlStream(readFileSync(path, 'utf8'), path).filter((d) => d !== null) as K8sObject[];
  });
}

export const KUBECTL = findKubectl();

function findKubectl(): string | undefined {
  for (const candidate of ['kubectl', '/usr/bin/kubectl']) {
    const probe = spawnSync(candidate, ['version', '--client'], { encoding: 'utf8', timeout: 30_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

/** `kubectl kustomize <dir>`: renders offline; throws with kubectl's stderr when the kustomization is broken. */
export function kustomize(dir: string): K8sObject[] {
  if (!KUBECTL) throw new Error('kubectl is not installed');
  const run = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${run.stderr || String(run.error)}`);
  return parseYamlStream(run.stdout, dir) as K8sObject[];
}

export function find<T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string, name: string): T | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as T | undefined;
}

export type EnvSource = 'literal' | 'configMap' | 'secret' | 'field';
export interface ResolvedEnv {
  value: string | undefined;
  source: EnvSource;
}

/**
 * A container's environment as Kubernetes builds it: envFrom sources in order, then `env` entries
 * (which win). References to a ConfigMap, Secret or key missing from `objects` are returned as
 * `problems` unless marked optional.
 */
export function containerEnv(
  container: Container,
  objects: K8sObject[],
): { env: Map<string, ResolvedEnv>; problems: string[] } {
  const env = new Map<string, ResolvedEnv>();
  const problems: string[] = [];
  const values = (kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> | undefined => {
    const obj = find(objects, kind, name);
    if (!obj) return undefined;
    const decoded = Object.fromEntries(
      Object.entries(obj.data ?? {}).map(([k, v]) => [k, kind === 'Secret' ? Buffer.from(v, 'base64').toString() : v]),
    );
    return { ...decoded, ...(obj.stringData ?? {}) };
  };

  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
    if (!ref) continue;
    const data = values(kind, ref.name);
    if (!data) {
      if (!ref.optional) problems.push(`envFrom names ${kind} ${ref.name}, which is not in the manifests`);
      continue;
    }
    for (const [key, value] of Object.entries(data)) {
      env.set(`${from.prefix ?? ''}${key}`, { value, source: kind === 'ConfigMap' ? 'configMap' : 'secret' });
    }
  }

  for (const entry of container.env ?? []) {
    const ref = entry.valueFrom?.configMapKeyRef ?? entry.valueFrom?.secretKeyRef;
    if (ref) {
      const kind = entry.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret';
      const data = values(kind, ref.name);
      if (!data || !(ref.key in data)) {
        if (!ref.optional)
          problems.push(`${entry.name} refers to ${kind} ${ref.name} key ${ref.key}, which is missing`);
        continue;
      }
      env.set(entry.name, { value: data[ref.key], source: kind === 'ConfigMap' ? 'configMap' : 'secret' });
    } else if (entry.valueFrom) {
      env.set(entry.name, { value: undefined, source: 'field' });
    } else {
      env.set(entry.name, { value: entry.value ?? '', source: 'literal' });
    }
  }
  return { env, problems };
}

/**
 * Validates objects against the Kubernetes schemas bundled in `kubernetes-models` (ajv, offline).
 * The package is ES-module only, which Jest's CommonJS runtime cannot load, so a plain node process
 * does the work. Returns one message per invalid object; undefined when the package is not installed.
 */
export function validateWithKubernetesModels(objects: K8sObject[]): string[] | undefined {
  if (!existsSync(join(REPO_ROOT, 'node_modules', 'kubernetes-models', 'package.json'))) return undefined;
  const run = spawnSync(process.execPath, [join(__dirname, 'validate-k8s-objects.mjs')], {
    cwd: REPO_ROOT,
    input: JSON.stringify(objects),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`validate-k8s-objects.mjs failed:\n${run.stderr || String(run.error)}`);
  return JSON.parse(run.stdout) as string[];
}
