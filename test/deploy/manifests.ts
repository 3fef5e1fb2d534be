import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { envVariablesOf, type AppName } from '@asana-stream/config';
import { validateStrimzi } from './strimzi-models';

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
 * Validates objects against their schemas, offline: Kubernetes' own kinds and KEDA's and
 * prometheus-operator's custom resources with the schemas the kubernetes-models packages bundle
 * (ajv), Strimzi's with the typed models of strimzi-models.ts. The packages are ES-module only,
 * which Jest's CommonJS runtime cannot load, so a plain node process does that part. Returns one
 * message per problem.
 */
export function validateObjects(objects: K8sObject[]): string[] {
  const strimzi = (o: K8sObject) => o.apiVersion.startsWith('kafka.strimzi.io/');
  const run = spawnSync(process.execPath, [join(__dirname, 'validate-k8s-objects.mjs')], {
    cwd: REPO_ROOT,
    input: JSON.stringify(objects.filter((o) => !strimzi(o))),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) throw new Error(`validate-k8s-objects.mjs failed:\n${run.stderr || String(run.error)}`);
  return [...(JSON.parse(run.stdout) as string[]), ...objects.filter(strimzi).flatMap(validateStrimzi)];
}

// ---------------------------------------------------------------- kustomize, offline

/**
 * The kustomization fields `buildKustomization` implements; any other field fails the build, so a
 * manifest can never rely on something this reader silently ignores.
 */
const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'namespace',
  'labels',
  'images',
  'replicas',
  'patches',
]);

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  components?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { path?: string; patch?: string; target?: PatchTarget }[];
}

/** Which objects a patch applies to; `name` is a regular expression matched whole, as in kustomize. */
export interface PatchTarget {
  kind?: string;
  name?: string;
  namespace?: string;
}

/** Kinds that are not namespaced, among those the manifests use. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

type PodTemplate = { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };

/** Where a kind keeps its pod template, for labels (includeTemplates) and images. */
function podTemplatesOf(object: K8sObject): PodTemplate[] {
  const spec = object.spec as
    { template?: PodTemplate; jobTemplate?: { spec?: { template?: PodTemplate } } } | undefined;
  if (!spec) return [];
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].includes(object.kind) && spec.template) {
    return [spec.template];
  }
  if (object.kind === 'CronJob' && spec.jobTemplate?.spec?.template) return [spec.jobTemplate.spec.template];
  return [];
}

/**
 * Builds a kustomization directory as `kustomize build` does, for the fields the manifests use
 * (KUSTOMIZATION_FIELDS): resources (files and kustomization directories), components, namespace,
 * labels, images, replicas and patches (strategic merge, `$patch: delete` included, or JSON 6902,
 * each on the object it names or on a `target`). No kustomize binary is needed, so every overlay is
 * built in every test run; where kubectl is installed, deploy-manifests.spec.ts compares the two.
 */
export function buildKustomization(dir: string): K8sObject[] {
  return build(dir, 'Kustomization', []);
}

/** Every kustomization under k8s/ that `kubectl apply -k` takes (components are only parts), sorted. */
export function kustomizationDirs(): string[] {
  return yamlFilesUnder(join(REPO_ROOT, 'k8s'))
    .filter((file) => file.endsWith('/kustomization.yaml'))
    .filter((file) => (parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as Kustomization).kind !== 'Component')
    .map((file) => file.slice(0, -'/kustomization.yaml'.length));
}

function readKustomization(dir: string, expected: 'Kustomization' | 'Component'): Kustomization {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${relative(REPO_ROOT, dir)} has no kustomization.yaml`);
  const k = parse(readFileSync(file, 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !KUSTOMIZATION_FIELDS.has(key));
  if (unknown.length > 0) {
    throw new Error(`${relative(REPO_ROOT, file)}: fields this reader does not implement: ${unknown.join(', ')}`);
  }
  if ((k.kind ?? 'Kustomization') !== expected) {
    throw new Error(`${relative(REPO_ROOT, file)}: kind ${k.kind}, expected ${expected}`);
  }
  return k;
}

/** A kustomization's objects; a component's are added to `inherited`, its parent's so far. */
function build(dir: string, kind: 'Kustomization' | 'Component', inherited: K8sObject[]): K8sObject[] {
  const k = readKustomization(dir, kind);
  const where = relative(REPO_ROOT, join(dir, 'kustomization.yaml'));
  let objects = [
    ...inherited,
    ...(k.resources ?? []).flatMap((entry) => {
      const path = join(dir, entry);
      if (existsSync(join(path, 'kustomization.yaml'))) return build(path, 'Kustomization', []);
      if (!existsSync(path)) throw new Error(`${where}: resource ${entry} does not exist`);
      return structuredClone(
        parseYamlStream(readFileSync(path, 'utf8'), path).filter((d) => d !== null) as K8sObject[],
      );
    }),
  ];
  for (const component of k.components ?? []) objects = build(join(dir, component), 'Component', objects);

  for (const patch of k.patches ?? []) {
    const text = patch.path ? readFileSync(join(dir, patch.path), 'utf8') : patch.patch;
    if (text === undefined) throw new Error(`${where}: a patch needs path or patch`);
    objects = applyPatch(objects, parse(text) as unknown, patch.target, where);
  }
  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const { pairs, includeSelectors, includeTemplates } of k.labels ?? []) {
    if (includeSelectors) throw new Error(`${where}: labels with includeSelectors are not implemented`);
    for (const o of objects) {
      o.metadata.labels = { ...o.metadata.labels, ...pairs };
      if (!includeTemplates) continue;
      for (const template of podTemplatesOf(o)) {
        template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...pairs } };
      }
    }
  }
  for (const image of k.images ?? []) {
    for (const template of objects.flatMap(podTemplatesOf)) {
      for (const c of [...(template.spec?.containers ?? []), ...(template.spec?.initContainers ?? [])]) {
        if (c.image !== image.name && !c.image.startsWith(`${image.name}:`) && !c.image.startsWith(`${image.name}@`)) {
          continue;
        }
        const current = c.image.slice(image.name.length);
        const tag = image.digest ? `@${image.digest}` : image.newTag ? `:${image.newTag}` : current;
        c.image = `${image.newName ?? image.name}${tag}`;
      }
    }
  }
  for (const { name, count } of k.replicas ?? []) {
    const targets = objects.filter(
      (o) => ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind) && o.metadata.name === name,
    );
    if (targets.length === 0) throw new Error(`${where}: replicas names ${name}, which is not a workload here`);
    for (const o of targets) (o.spec as { replicas?: number }).replicas = count;
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.apiVersion.split('/')[0]} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(id)) throw new Error(`${where}: ${o.kind} ${o.metadata.name} is defined twice`);
    seen.add(id);
  }
  return objects;
}

function matches(o: K8sObject, target: PatchTarget): boolean {
  const whole = (pattern: string, value: string | undefined) => new RegExp(`^(?:${pattern})$`).test(value ?? '');
  return (
    (target.kind === undefined || o.kind === target.kind) &&
    (target.name === undefined || whole(target.name, o.metadata.name)) &&
    (target.namespace === undefined || whole(target.namespace, o.metadata.namespace))
  );
}

/** One `patches` entry: a JSON 6902 list of operations, or a strategic merge patch. */
export function applyPatch(
  objects: K8sObject[],
  patch: unknown,
  target: PatchTarget | undefined,
  where: string,
): K8sObject[] {
  if (Array.isArray(patch)) {
    if (!target) throw new Error(`${where}: a JSON 6902 patch needs a target`);
    const hits = objects.filter((o) => matches(o, target));
    if (hits.length === 0) throw new Error(`${where}: patch target ${JSON.stringify(target)} matches nothing`);
    for (const o of hits) applyJson6902(o, patch as JsonPatchOperation[], where);
    return objects;
  }
  const smp = patch as K8sObject & { $patch?: string };
  const selector: PatchTarget = target ?? { kind: smp.kind, name: smp.metadata.name };
  const hits = objects.filter((o) => matches(o, selector));
  if (hits.length === 0) throw new Error(`${where}: patch of ${smp.kind} ${smp.metadata?.name} matches nothing`);
  if (smp.$patch === 'delete') return objects.filter((o) => !hits.includes(o));
  return objects.map((o) => {
    if (!hits.includes(o)) return o;
    // A patch aimed by `target` keeps the object's own name.
    const { metadata, ...rest } = smp;
    const merged = strategicMerge(o, target ? { ...rest, metadata: { ...metadata, name: o.metadata.name } } : smp);
    return merged as K8sObject;
  });
}

/**
 * Kubernetes' strategic merge for the shapes the manifests patch: maps merge key by key, `null`
 * removes a key, lists of objects with a `name` (containers, env, ports, volumes) merge item by item
 * by name (`$patch: delete` in an item removes it), any other list is replaced.
 */
export function strategicMerge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(patch)) {
    const named = (list: unknown[]) => list.every((x) => typeof x === 'object' && x !== null && 'name' in x);
    if (!Array.isArray(base) || !named(patch) || !named(base)) return structuredClone(patch);
    const result = [...(base as { name: string }[])];
    for (const item of patch as { name: string; $patch?: string }[]) {
      const at = result.findIndex((x) => x.name === item.name);
      if (item.$patch === 'delete') {
        if (at >= 0) result.splice(at, 1);
      } else if (at >= 0) {
        result[at] = strategicMerge(result[at], item) as { name: string };
      } else {
        result.push(structuredClone(item));
      }
    }
    return result;
  }
  if (typeof patch !== 'object' || patch === null) return patch;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return structuredClone(patch);
  const result: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = strategicMerge(result[key], value);
  }
  return result;
}

export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** RFC 6902's add, replace and remove; a path that does not exist fails, as in kustomize. */
export function applyJson6902(object: object, operations: JsonPatchOperation[], where: string): void {
  for (const { op, path, value } of operations) {
    const keys = path
      .split('/')
      .slice(1)
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop();
    let parent: unknown = object;
    for (const key of keys) parent = (parent as Record<string, unknown> | undefined)?.[key];
    if (typeof parent !== 'object' || parent === null || last === undefined) {
      throw new Error(`${where}: ${op} ${path}: no such path`);
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (op === 'add') parent.splice(index, 0, structuredClone(value));
      else if (index >= parent.length) throw new Error(`${where}: ${op} ${path}: no such path`);
      else if (op === 'replace') parent[index] = structuredClone(value);
      else parent.splice(index, 1);
      continue;
    }
    const record = parent as Record<string, unknown>;
    if (op !== 'add' && !(last in record)) throw new Error(`${where}: ${op} ${path}: no such path`);
    if (op === 'remove') delete record[last];
    else record[last] = structuredClone(value);
  }
}
