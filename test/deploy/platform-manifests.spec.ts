import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsanaPacingEnv, ConsumerEnv, IngestEnv, KafkaEnv, WebhookAdminEnv, loadConfig } from '@asana-stream/config';
import { allTopics, TopicNames, TOPICS } from '@asana-stream/contracts';
import { consumerGroupId } from '@asana-stream/kafka';
import {
  APP_PLACEMENT,
  REPO_ROOT,
  buildKustomization,
  containerEnv,
  find,
  kustomizationDirs,
  readKustomizationResources,
  validateObjects,
  type Container,
  type K8sObject,
  type Workload,
} from './manifests';

/*
 * What k8s/components/platform adds in the dev and prod overlays, checked against the code it
 * depends on: the topology's partitions, the apps' config defaults and consumer groups, the
 * outbox's columns, the cli's webhook URLs.
 */

const DEPLOYED = ['ingest', 'enricher', 'projector', 'fanout'] as const;
type Deployed = (typeof DEPLOYED)[number];
/** The topic each lag-scaled consumer reads (each app's PipelineApp `consumes`; test/ may not import apps). */
const CONSUMED: Partial<Record<Deployed, string>> = { enricher: TOPICS.events.name, projector: TOPICS.state.name };
/** Asana's limit on a token's reads in flight (docs/architecture.md, the enricher). */
const ASANA_READS_IN_FLIGHT = 50;
const PHASE_LABEL = 'asana-stream.io/release-phase';

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** Kubernetes' label selector semantics; an empty selector selects everything. */
function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpression = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    if (operator === 'In') return key in labels && values.includes(labels[key]);
    if (operator === 'NotIn') return !(key in labels) || !values.includes(labels[key]);
    if (operator === 'Exists') return key in labels;
    return !(key in labels);
  });
  return byLabel && byExpression;
}

interface NetworkPolicyPeer {
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface NetworkPolicyRule {
  to?: NetworkPolicyPeer[];
  from?: NetworkPolicyPeer[];
  ports?: { protocol?: string; port?: number | string }[];
}
interface NetworkPolicy extends K8sObject {
  spec: {
    podSelector: LabelSelector;
    policyTypes: ('Ingress' | 'Egress')[];
    ingress?: NetworkPolicyRule[];
    egress?: NetworkPolicyRule[];
  };
}

/** A peer as the tests name it: its namespace (by kubernetes.io/metadata.name), or `public` for the internet. */
function peerName(peer: NetworkPolicyPeer): string {
  if (peer.ipBlock) {
    const privateRanges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
    const excludesPrivate = privateRanges.every((r) => peer.ipBlock?.except?.includes(r));
    return peer.ipBlock.cidr === '0.0.0.0/0' && excludesPrivate ? 'public' : `ipBlock ${peer.ipBlock.cidr}`;
  }
  const labels = peer.namespaceSelector?.matchLabels ?? {};
  const namespace = labels['kubernetes.io/metadata.name'];
  if (peer.namespaceSelector && !namespace) {
    const selected = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
    return selected.length > 0 ? `namespaces labelled ${selected.join(',')}` : 'any namespace';
  }
  return namespace ?? 'own namespace';
}

/**
 * What the NetworkPolicies let a pod with these labels reach (egress) or be reached by (ingress), as
 * `peer:port/protocol` strings; undefined when no policy of that type selects it (all allowed).
 */
function allowed(policies: NetworkPolicy[], labels: Record<string, string>, type: 'Ingress' | 'Egress') {
  const applying = policies.filter((p) => p.spec.policyTypes.includes(type) && selects(p.spec.podSelector, labels));
  if (applying.length === 0) return undefined;
  const result = new Set<string>();
  for (const policy of applying) {
    for (const rule of (type === 'Egress' ? policy.spec.egress : policy.spec.ingress) ?? []) {
      const peers = (type === 'Egress' ? rule.to : rule.from) ?? [];
      const ports = rule.ports ?? [{}];
      for (const peer of peers.length > 0 ? peers : [{ namespaceSelector: {} }]) {
        for (const port of ports) result.add(`${peerName(peer)}:${port.port ?? '*'}/${port.protocol ?? 'TCP'}`);
      }
    }
  }
  return [...result].sort();
}

const COMMON_EGRESS = ['kafka:9092/TCP', 'kube-system:53/TCP', 'kube-system:53/UDP', 'postgres:5432/TCP'];
const EXPECTED_EGRESS: Record<Deployed | 'setup', string[]> = {
  ingest: [...COMMON_EGRESS, 'observability:4318/TCP'],
  enricher: [...COMMON_EGRESS, 'observability:4318/TCP', 'public:443/TCP'],
  projector: [...COMMON_EGRESS, 'observability:4318/TCP'],
  fanout: [...COMMON_EGRESS, 'observability:4318/TCP'],
  setup: COMMON_EGRESS,
};
const EXPECTED_INGRESS: Record<Deployed | 'setup', string[]> = {
  ingest: ['ingress-nginx:http/TCP', 'monitoring:http/TCP'],
  enricher: ['monitoring:http/TCP'],
  projector: ['monitoring:http/TCP'],
  // Events API clients: namespaces (and pods) that opt in with a label.
  fanout: ['monitoring:http/TCP', 'namespaces labelled asana-stream.io/events-api-client=true:http/TCP'],
  setup: [],
};

/** nginx's size syntax (client_max_body_size): bytes, or k/m units of 1024. */
function nginxBytes(size: string): number {
  const match = /^(\d+)([kKmM]?)$/.exec(size);
  if (!match) return Number.NaN;
  const unit = { '': 1, k: 1024, m: 1024 * 1024 }[match[2].toLowerCase() as '' | 'k' | 'm'];
  return Number(match[1]) * unit;
}

interface ScaledObject extends K8sObject {
  spec: {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers: { type: string; metadata: Record<string, string> }[];
  };
}
interface Hpa extends K8sObject {
  spec: {
    scaleTargetRef: { apiVersion: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas: number;
    metrics?: { type: string; resource?: { name: string; target: { type: string; averageUtilization?: number } } }[];
  };
}
interface Pdb extends K8sObject {
  spec: { selector: LabelSelector; maxUnavailable?: number | string; minAvailable?: number | string };
}
interface ServiceMonitor extends K8sObject {
  spec: { selector: LabelSelector; namespaceSelector?: unknown; endpoints: { port?: string; path?: string }[] };
}
interface ServiceObject extends K8sObject {
  spec: { selector?: Record<string, string>; ports: { name?: string; port: number; targetPort?: number | string }[] };
}
interface Ingress extends K8sObject {
  metadata: K8sObject['metadata'] & { annotations?: Record<string, string> };
  spec: {
    ingressClassName?: string;
    tls?: { hosts?: string[]; secretName?: string }[];
    rules: {
      host?: string;
      http: {
        paths: {
          path: string;
          pathType: string;
          backend: { service: { name: string; port: { name?: string; number?: number } } };
        }[];
      };
    }[];
  };
}

describe.each(kustomizationDirs())('%s', (dir) => {
  it('builds, and every object matches its schema', () => {
    const objects = buildKustomization(join(REPO_ROOT, dir));
    expect(objects.length).toBeGreaterThan(0);
    expect(validateObjects(objects)).toEqual([]);
  });
});

describe.each(['dev', 'prod'])('k8s/overlays/%s, the platform', (overlay) => {
  let objects: K8sObject[] = [];
  let secretTemplate: K8sObject[] = [];
  beforeAll(() => {
    objects = buildKustomization(join(REPO_ROOT, 'k8s', 'overlays', overlay));
    secretTemplate = readKustomizationResources(join(REPO_ROOT, 'k8s', 'base')).filter((o) => o.kind === 'Secret');
  });
  const workload = (app: Deployed | 'setup'): Workload => {
    const found = find<Workload>(objects, app === 'setup' ? 'Job' : 'Deployment', app);
    if (!found) throw new Error(`no workload ${app}`);
    return found;
  };
  const container = (app: Deployed | 'setup'): Container => workload(app).spec.template.spec.containers[0];
  const podLabels = (app: Deployed | 'setup') => workload(app).spec.template.metadata?.labels ?? {};
  const envOf = (app: Deployed | 'setup') => {
    const { env } = containerEnv(container(app), [...objects, ...secretTemplate]);
    return Object.fromEntries([...env].map(([k, v]) => [k, v.value])) as Record<string, string | undefined>;
  };
  /** One config part as an app loads it from its environment, defaults included. */
  const configOf = <T extends object>(part: new () => T, app: Deployed | 'setup'): T =>
    loadConfig({ part }, envOf(app)).part;
  const of = <T extends K8sObject>(kind: string) => objects.filter((o) => o.kind === kind) as T[];
  const namespace = () => objects.find((o) => o.kind === 'Namespace')?.metadata.name;

  it('puts every object in its own namespace, which enforces the restricted Pod Security Standard', () => {
    const ns = objects.find((o) => o.kind === 'Namespace');
    expect(ns?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const elsewhere = objects.filter((o) => o.kind !== 'Namespace' && o.metadata.namespace !== ns?.metadata.name);
    expect(elsewhere.map((o) => `${o.kind} ${o.metadata.name}`)).toEqual([]);
  });

  it('leaves the Secret to the installation, so applying never overwrites it with placeholders', () => {
    expect(of('Secret')).toEqual([]);
    const keys = Object.keys(secretTemplate[0]?.stringData ?? {});
    for (const app of [...DEPLOYED, 'setup'] as const) {
      for (const entry of container(app).env ?? []) {
        const ref = entry.valueFrom?.secretKeyRef;
        if (ref)
          expect({ app, ref: `${ref.name}/${ref.key}` }).toEqual({ app, ref: `asana-stream-secrets/${ref.key}` });
        if (ref) expect(keys).toContain(ref.key);
      }
    }
  });

  it('runs every workload from one pinned image of a registry', () => {
    const images = new Set([...DEPLOYED, 'setup' as const].map((app) => container(app).image));
    expect(images.size).toBe(1);
    const [image] = [...images];
    expect(image).toMatch(/^[a-z0-9.-]+\.[a-z]+(:\d+)?\/[^:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
    expect(image).not.toMatch(/:latest$/);
  });

  describe('scaling', () => {
    const autoscalersOf = (app: Deployed) => [
      ...of<Hpa>('HorizontalPodAutoscaler').filter((h) => h.spec.scaleTargetRef.name === app),
      ...of<ScaledObject>('ScaledObject').filter((s) => s.spec.scaleTargetRef.name === app),
    ];

    it.each(DEPLOYED)('gives %s exactly one autoscaler, which alone sets its replicas', (app) => {
      expect(autoscalersOf(app)).toHaveLength(1);
      expect(workload(app).spec.replicas).toBeUndefined();
    });

    it('scales ingest with an autoscaling/v2 HPA on CPU against its requests, never below two pods', () => {
      const hpa = find<Hpa>(objects, 'HorizontalPodAutoscaler', 'ingest')!;
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ingest' });
      const cpu = hpa.spec.metrics?.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
      expect(cpu?.resource?.target.type).toBe('Utilization');
      expect(cpu?.resource?.target.averageUtilization).toBeGreaterThan(0);
      expect(container('ingest').resources?.requests?.cpu).toBeDefined();
      expect(hpa.spec.minReplicas ?? 1).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      if (overlay === 'prod') expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    });

    it.each(Object.entries(CONSUMED))(
      'scales %s on its consumer group lag, never past the partitions of %s',
      (app, logical) => {
        const consumer = app as Deployed;
        const scaled = find<ScaledObject>(objects, 'ScaledObject', consumer)!;
        const kafka = configOf(KafkaEnv, consumer);
        const names = new TopicNames(kafka.KAFKA_TOPIC_PREFIX);
        const topic = allTopics().find((t) => t.name === logical)!;
        expect(scaled.spec.scaleTargetRef.name).toBe(consumer);
        expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
        expect(scaled.spec.maxReplicaCount).toBeLessThanOrEqual(topic.partitions);
        expect(scaled.spec.triggers).toHaveLength(1);
        const [trigger] = scaled.spec.triggers;
        expect(trigger.type).toBe('kafka');
        expect(trigger.metadata).toMatchObject({
          bootstrapServers: kafka.KAFKA_BROKERS,
          consumerGroup: consumerGroupId(names.prefix, consumer, configOf(ConsumerEnv, consumer).CONSUMER_GROUP_SUFFIX),
          topic: names.physical(logical),
          // The consumers subscribe from the beginning: a partition without a commit is all lag.
          offsetResetPolicy: 'earliest',
        });
        expect(trigger.metadata.allowIdleConsumers ?? 'false').toBe('false');
        expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
      },
    );

    it('keeps every enricher replica together within Asana’s limits on reads in flight and on budget', () => {
      const max = find<ScaledObject>(objects, 'ScaledObject', 'enricher')!.spec.maxReplicaCount ?? 100;
      const pacing = configOf(AsanaPacingEnv, 'enricher');
      expect(max * pacing.ENRICHER_MAX_IN_FLIGHT).toBeLessThanOrEqual(ASANA_READS_IN_FLIGHT);
      expect(max * pacing.ASANA_FALLBACK_REQUESTS_PER_MINUTE).toBeLessThanOrEqual(pacing.ASANA_REQUESTS_PER_MINUTE);
    });

    it('scales fanout on the outbox rows waiting for a relay, read with its own DATABASE_URL', () => {
      const scaled = find<ScaledObject>(objects, 'ScaledObject', 'fanout')!;
      expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      const [trigger] = scaled.spec.triggers;
      expect(trigger.type).toBe('postgresql');
      const fromEnv = trigger.metadata.connectionFromEnv;
      const source = containerEnv(container('fanout'), [...objects, ...secretTemplate]).env.get(fromEnv);
      expect({ fromEnv, source: source?.source }).toEqual({ fromEnv, source: 'secret' });
      expect(Number(trigger.metadata.targetQueryValue)).toBeGreaterThan(0);
      // The query's table and columns exist in the migrations.
      const migrations = readdirSync(join(REPO_ROOT, 'libs', 'db', 'src', 'migrations'))
        .map((f) => readFileSync(join(REPO_ROOT, 'libs', 'db', 'src', 'migrations', f), 'utf8'))
        .join('\n');
      const query = trigger.metadata.query;
      expect(query).toMatch(/^SELECT count\(\*\) FROM outbox WHERE /);
      for (const column of query.match(/\b[a-z]+_at\b/g) ?? [])
        expect(migrations).toMatch(new RegExp(`\\b${column}\\b`));
      expect(query).toContain('published_at IS NULL');
      expect(query).toContain('parked_at IS NULL');
    });

    it.each(DEPLOYED)('never replaces %s’s ready pods before new ones are ready', (app) => {
      expect(workload(app).spec).toMatchObject({
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0 } },
      });
    });
  });

  it.each(DEPLOYED)('gives %s a PodDisruptionBudget that lets a drain evict one pod at a time', (app) => {
    const budgets = of<Pdb>('PodDisruptionBudget').filter((p) => selects(p.spec.selector, podLabels(app)));
    expect(budgets).toHaveLength(1);
    expect(budgets[0].apiVersion).toBe('policy/v1');
    expect(budgets[0].spec.maxUnavailable).toBe(1);
  });

  describe('NetworkPolicies', () => {
    const policies = () => of<NetworkPolicy>('NetworkPolicy');

    it('deny everything to and from every pod of the namespace by default', () => {
      const denyAll = policies().filter(
        (p) =>
          Object.keys(p.spec.podSelector).length === 0 &&
          p.spec.policyTypes.includes('Ingress') &&
          p.spec.policyTypes.includes('Egress') &&
          !p.spec.ingress &&
          !p.spec.egress,
      );
      expect(denyAll).toHaveLength(1);
    });

    it.each([...DEPLOYED, 'setup' as const])(
      'let %s reach only what it needs, and be reached only by who must',
      (app) => {
        const labels = podLabels(app);
        expect({ app, egress: allowed(policies(), labels, 'Egress') }).toEqual({
          app,
          egress: [...EXPECTED_EGRESS[app]].sort(),
        });
        expect({ app, ingress: allowed(policies(), labels, 'Ingress') }).toEqual({
          app,
          ingress: EXPECTED_INGRESS[app],
        });
      },
    );

    it('allow the Kafka brokers and the collector the config names, at their ports', () => {
      const env = envOf('enricher');
      const egress = allowed(policies(), podLabels('enricher'), 'Egress') ?? [];
      for (const broker of (env.KAFKA_BROKERS ?? '').split(',')) {
        const [host, port] = broker.split(':');
        expect(egress).toContain(`${host.split('.')[1]}:${port}/TCP`);
      }
      const collector = new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
      expect(egress).toContain(`${collector.hostname.split('.')[1]}:${collector.port}/TCP`);
    });

    it('name as `http` the container port that serves traffic and metrics', () => {
      for (const app of DEPLOYED) {
        const port = container(app).ports?.find((p) => p.name === 'http')?.containerPort;
        expect({ app, port }).toEqual({ app, port: Number(envOf(app).PORT) });
      }
    });
  });

  describe('the Ingress', () => {
    const ingress = () => find<Ingress>(objects, 'Ingress', 'ingest')!;

    it('is the only Ingress, and routes to the ingest Service', () => {
      expect(of('Ingress')).toHaveLength(1);
      const service = find<ServiceObject>(objects, 'Service', 'ingest')!;
      for (const rule of ingress().spec.rules) {
        for (const { backend } of rule.http.paths) {
          expect(backend.service.name).toBe('ingest');
          expect(service.spec.ports.map((p) => p.name)).toContain(backend.service.port.name);
        }
      }
    });

    it('limits a body to exactly what ingest takes (INGEST_MAX_BODY_BYTES)', () => {
      const limit = ingress().metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size'] ?? '';
      expect(nginxBytes(limit)).toBe(configOf(IngestEnv, 'ingest').INGEST_MAX_BODY_BYTES);
    });

    it('serves INGEST_PUBLIC_URL’s host over TLS, exposing the webhook path and nothing else', () => {
      const url = new URL(configOf(WebhookAdminEnv, 'setup').INGEST_PUBLIC_URL);
      expect(url.protocol).toBe('https:');
      const { rules, tls } = ingress().spec;
      expect(rules.map((r) => r.host)).toEqual([url.hostname]);
      expect(tls?.flatMap((t) => t.hosts)).toEqual([url.hostname]);
      expect(tls?.[0].secretName).toBeTruthy();
      // The cli registers webhooks at <INGEST_PUBLIC_URL>/webhooks/asana/<subscription>.
      const paths = rules.flatMap((r) => r.http.paths);
      expect(paths.map((p) => `${p.pathType} ${p.path}`)).toEqual(['Prefix /webhooks/asana']);
    });
  });

  it.each(DEPLOYED)('scrapes %s’s /metrics through a ServiceMonitor on its Service’s metrics port', (app) => {
    const services = of<ServiceObject>('Service').filter((s) =>
      selects({ matchLabels: s.spec.selector }, podLabels(app)),
    );
    const monitors = of<ServiceMonitor>('ServiceMonitor').filter((m) =>
      services.some((s) => selects(m.spec.selector, s.metadata.labels ?? {})),
    );
    expect(monitors).toHaveLength(1);
    const [monitor] = monitors;
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.namespaceSelector).toBeUndefined();
    const service = services.find((s) => selects(monitor.spec.selector, s.metadata.labels ?? {}))!;
    for (const endpoint of monitor.spec.endpoints) {
      expect(endpoint.path).toBe('/metrics');
      const port = service.spec.ports.find((p) => p.name === endpoint.port);
      const target = container(app).ports?.find(
        (p) => p.name === port?.targetPort || p.containerPort === port?.targetPort,
      );
      expect({ app, port: target?.containerPort }).toEqual({ app, port: Number(envOf(app).PORT) });
    }
  });

  describe('the release’s first phase (migrations before the rollout)', () => {
    const phase = () => objects.filter((o) => o.metadata.labels?.[PHASE_LABEL] === 'migrate');

    it('selects the setup Job and what it needs, and no app', () => {
      const names = phase().map((o) => `${o.kind} ${o.metadata.name}`);
      expect(names).toEqual(
        expect.arrayContaining([`Namespace ${namespace()}`, 'ConfigMap asana-stream-config', 'Job setup']),
      );
      expect(phase().filter((o) => !['Namespace', 'ConfigMap', 'Job', 'NetworkPolicy'].includes(o.kind))).toEqual([]);
    });

    it('lets the Job start with only those objects and the Secret', () => {
      const { problems } = containerEnv(container('setup'), [...phase(), ...secretTemplate]);
      expect(problems).toEqual([]);
      const policies = phase().filter((o) => o.kind === 'NetworkPolicy') as NetworkPolicy[];
      expect(allowed(policies, podLabels('setup'), 'Egress')).toEqual([...EXPECTED_EGRESS.setup].sort());
    });

    it('can be selected with `kubectl apply -l`: no object has a label without a value', () => {
      // kubectl's selector filter drops every object when one has a null label (kubernetes/kubectl#1743).
      const empty = objects.flatMap((o) =>
        Object.entries(o.metadata.labels ?? {})
          .filter(([, v]) => typeof v !== 'string' || v === '')
          .map(([k]) => `${o.kind} ${o.metadata.name}: ${k}`),
      );
      expect(empty).toEqual([]);
    });

    it('runs the Job that migrates: `cli setup`, from the apps’ image', () => {
      const job = container('setup');
      expect([...(job.command ?? []), ...(job.args ?? [])]).toEqual(['node', 'dist/apps/cli/src/main.js', 'setup']);
      expect(job.image).toBe(container('ingest').image);
      expect(APP_PLACEMENT.cli.k8s).toEqual({ kind: 'Job', name: 'setup' });
    });
  });
});
