import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { APP_CONFIG_PARTS, SENSITIVE_KEYS, loadAppConfig, type AppName } from '@asana-stream/config';
import { TOPICS } from '@asana-stream/contracts';
import {
  APP_PLACEMENT,
  KUBECTL,
  buildKustomization,
  OTEL_ENV,
  REPO_ROOT,
  composeCommand,
  composeEnv,
  containerEnv,
  dependsOn,
  envVarsReadBy,
  find,
  kustomizationDirs,
  kustomize,
  parseYamlStream,
  readCompose,
  readKustomizationResources,
  validateObjects,
  yamlFilesUnder,
  type Container,
  type K8sObject,
  type Probe,
  type Service,
  type Workload,
} from './manifests';

/*
 * The deployment manifests against the code: every variable an app's config classes validate
 * (APP_CONFIG_PARTS, read through class-validator's metadata) must reach that app in
 * docker-compose.yml and in Kubernetes, so a variable added to a config class fails here until the
 * manifests carry it. No Docker engine, cluster or kustomize binary is needed: the overlays are built
 * by buildKustomization (manifests.ts) and checked against offline schemas; where kubectl is
 * installed, its `kubectl kustomize` must build the same objects.
 */

const APPS = Object.keys(APP_CONFIG_PARTS) as AppName[];
const DEPLOYED: AppName[] = ['ingest', 'enricher', 'projector', 'fanout'];
const MAIN = (app: string) => `dist/apps/${app}/src/main.js`;
/** The consumed topics' partitions (libs/contracts/src/topology.ts) bound every app's replicas. */
const TOPIC_PARTITIONS = Math.min(TOPICS.events.partitions, TOPICS.state.partitions);
/** The deployed apps start the OpenTelemetry SDK (libs/telemetry); the cli does not. */
const otelEnvFor = (app: AppName) => (DEPLOYED.includes(app) ? OTEL_ENV : []);

describe('the app placement table', () => {
  it('places every app that APP_CONFIG_PARTS declares, so a new app cannot slip past these checks', () => {
    expect(Object.keys(APP_PLACEMENT).sort()).toEqual([...APPS].sort());
  });

  it('finds the env variables through class-validator metadata (sanity check of the reader)', () => {
    expect(envVarsReadBy('fanout')).toEqual(
      expect.arrayContaining(['KAFKA_BROKERS', 'DATABASE_URL', 'PORT', 'FANOUT_BATCH_SIZE']),
    );
    expect(envVarsReadBy('enricher')).toEqual(expect.arrayContaining(['DATABASE_URL', 'EVENTS_POLL_INTERVAL_MS']));
    expect(envVarsReadBy('enricher')).not.toContain('FANOUT_BATCH_SIZE');
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages = instructions.reduce<string[][]>((acc, line) => {
    if (/^FROM\s/i.test(line)) acc.push([line]);
    else acc.at(-1)?.push(line);
    return acc;
  }, []);
  const runtime = stages.at(-1) ?? [];

  it('builds on Node 24 slim', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]).toMatch(/^FROM \$\{NODE_IMAGE\}/);
  });

  it('compiles with npm run build and ships production dependencies only', () => {
    expect(instructions.some((l) => /^RUN .*npm ci\b/.test(l) && !l.includes('--omit=dev'))).toBe(true);
    expect(instructions.some((l) => /^RUN .*npm run build\b/.test(l))).toBe(true);
    expect(instructions.some((l) => /^RUN .*npm ci .*--omit=dev/.test(l))).toBe(true);
    expect(runtime.some((l) => /^COPY --from=\S+ \S*dist\b/.test(l))).toBe(true);
    expect(runtime.some((l) => /^RUN .*npm (ci|install)\b(?!.*--omit=dev)/.test(l))).toBe(false);
  });

  it('runs the image as a non-root user, given by number so Kubernetes can verify runAsNonRoot', () => {
    const user = runtime.filter((l) => /^USER\s/i.test(l)).at(-1);
    expect(user).toBeDefined();
    const uid = user!.split(/\s+/)[1].split(':')[0];
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
  });

  it('keeps local artefacts and secrets out of the build context', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.local', '.env', '.git']));
  });
});

describe('docker-compose.yml', () => {
  const compose = readCompose();
  const { services } = compose;

  it('runs Kafka, Postgres, tracing, setup, the four apps and the simulator', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining([
        'kafka',
        'postgres',
        'jaeger',
        'otel-collector',
        'setup',
        ...DEPLOYED,
        'asana-simulator',
      ]),
    );
  });

  it('runs every app from the one image through its main.js', () => {
    for (const app of APPS) {
      const service = services[APP_PLACEMENT[app].compose];
      expect({ app, image: service.image }).toEqual({ app, image: services.ingest.image });
      expect({ app, command: composeCommand(service).slice(0, 2) }).toEqual({ app, command: ['node', MAIN(app)] });
    }
    expect(composeCommand(services.setup)).toEqual(['node', MAIN('cli'), 'setup']);
    expect(composeCommand(services['asana-simulator'])).toEqual(['node', MAIN('asana-simulator')]);
  });

  it.each(APPS)('sets every variable %s reads, with values its config accepts', (app) => {
    const env = composeEnv(services[APP_PLACEMENT[app].compose]);
    const missing = [...envVarsReadBy(app), ...otelEnvFor(app)].filter((name) => env.get(name) === undefined);
    expect({ app, missing }).toEqual({ app, missing: [] });
    const values = Object.fromEntries([...env].filter(([, v]) => v !== undefined)) as Record<string, string>;
    expect(() => loadAppConfig(app, values)).not.toThrow();
    if (DEPLOYED.includes(app)) expect(env.get('OTEL_SERVICE_NAME')).toBe(`asana-stream-${app}`);
  });

  it('sends telemetry over OTLP/HTTP to a collector that compose runs', () => {
    for (const name of DEPLOYED) {
      const env = composeEnv(services[name]);
      const endpoint = new URL(env.get('OTEL_EXPORTER_OTLP_ENDPOINT') ?? 'missing:');
      expect({ name, host: endpoint.hostname, port: endpoint.port }).toEqual({
        name,
        host: 'otel-collector',
        port: '4318',
      });
      expect(['http/json', 'http/protobuf']).toContain(env.get('OTEL_EXPORTER_OTLP_PROTOCOL'));
    }
    // Like Asana, the simulator is untraced: a delivery's trace starts at ingest.
    expect(composeEnv(services['asana-simulator']).get('OTEL_EXPORTER_OTLP_ENDPOINT')).toBeUndefined();
    const collector = parse(readFileSync(join(REPO_ROOT, 'deploy', 'otel-collector.yaml'), 'utf8')) as {
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, unknown>;
      service: { pipelines: Record<string, { receivers: string[]; exporters: string[] }> };
    };
    expect(collector.receivers.otlp.protocols.http.endpoint).toMatch(/:4318$/);
    const { traces } = collector.service.pipelines;
    expect(traces.receivers).toContain('otlp');
    for (const exporter of traces.exporters) expect(Object.keys(collector.exporters)).toContain(exporter);
  });

  it('points the enricher and the cli at the simulator with the token the simulator accepts', () => {
    const simulator = composeEnv(services['asana-simulator']);
    expect(simulator.get('PORT')).toBe('4010');
    expect(simulator.get('SIM_TOKEN')).toBeTruthy();
    for (const name of ['enricher', 'setup']) {
      const env = composeEnv(services[name]);
      expect({ name, url: env.get('ASANA_BASE_URL') }).toEqual({ name, url: 'http://asana-simulator:4010/api/1.0' });
      expect({ name, token: env.get('ASANA_TOKEN') }).toEqual({ name, token: simulator.get('SIM_TOKEN') });
    }
    expect(composeEnv(services.setup).get('INGEST_PUBLIC_URL')).toBe('http://ingest:3000');
  });

  it('runs Kafka in KRaft mode from the official image, with auto topic creation off', () => {
    const kafka = services.kafka;
    const env = composeEnv(kafka);
    expect(kafka.image).toMatch(/^apache\/kafka:4\.1\.\d+$/);
    expect(env.get('KAFKA_AUTO_CREATE_TOPICS_ENABLE')).toBe('false');
    expect(env.get('KAFKA_PROCESS_ROLES')).toBe('broker,controller');
    expect(env.get('KAFKA_CONTROLLER_QUORUM_VOTERS')).toMatch(/^1@kafka:\d+$/);
    expect(env.get('CLUSTER_ID')).toBeTruthy();
    // The apps' KAFKA_BROKERS must be an advertised listener, or clients reconnect to an address
    // they cannot reach.
    const advertised = (env.get('KAFKA_ADVERTISED_LISTENERS') ?? '').split(',').map((l) => l.replace(/^\w+:\/\//, ''));
    for (const app of APPS) {
      expect(advertised).toContain(composeEnv(services[APP_PLACEMENT[app].compose]).get('KAFKA_BROKERS'));
    }
  });

  it('checks each app and the simulator for readiness on /health/ready at its PORT', () => {
    for (const name of [...DEPLOYED, 'asana-simulator']) {
      const port = composeEnv(services[name]).get('PORT');
      const test = ([] as string[]).concat(services[name].healthcheck?.test ?? []).join(' ');
      expect({ name, test }).toEqual({ name, test: expect.stringContaining(`:${port}/health/ready`) });
    }
  });

  it('starts the apps only after setup has completed, and setup after Kafka and Postgres are healthy', () => {
    for (const app of DEPLOYED) {
      expect({ app, setup: dependsOn(services[app]).setup }).toEqual({ app, setup: 'service_completed_successfully' });
    }
    expect(dependsOn(services.setup)).toMatchObject({ kafka: 'service_healthy', postgres: 'service_healthy' });
    expect(services.setup.restart).toBe('no');
  });

  it('only waits on services that exist, and on health only where a healthcheck is defined', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(service))) {
        expect({ name, dep, exists: dep in services }).toEqual({ name, dep, exists: true });
        if (condition === 'service_healthy') {
          expect({ name, dep, healthcheck: services[dep].healthcheck?.test !== undefined }).toEqual({
            name,
            dep,
            healthcheck: true,
          });
        }
      }
    }
  });

  it('mounts only files that exist and volumes that are declared', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0] : (volume.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect({ name, source, exists: existsSync(join(REPO_ROOT, source)) }).toEqual({ name, source, exists: true });
        } else {
          expect(Object.keys(compose.volumes ?? {})).toContain(source);
        }
      }
    }
  });
});

describe('k8s/ YAML files', () => {
  it.each(yamlFilesUnder(join(REPO_ROOT, 'k8s')))('%s parses', (file) => {
    expect(() => parseYamlStream(readFileSync(join(REPO_ROOT, file), 'utf8'), file)).not.toThrow();
  });

  it('keeps the base namespace-agnostic', () => {
    const namespaced = readKustomizationResources(join(REPO_ROOT, 'k8s', 'base')).filter(
      (o) => o.kind === 'Namespace' || o.metadata.namespace !== undefined,
    );
    expect(namespaced.map((o) => `${o.kind} ${o.metadata.name}`)).toEqual([]);
  });
});

/** The checks every rendering of the Kubernetes manifests must pass. */
function describeKubernetes(
  label: string,
  load: () => K8sObject[],
  expectations: { rendered?: boolean; replicas?: number; externalSecret?: boolean } = {},
) {
  describe(label, () => {
    let objects: K8sObject[] = [];
    /** With the Secret managed outside the manifests, its template stands for it. */
    let withSecret: K8sObject[] = [];
    beforeAll(() => {
      objects = load();
      withSecret = expectations.externalSecret ? [...objects, ...baseSecretTemplate()] : objects;
    });
    const workload = (app: AppName): Workload => {
      const { kind, name } = APP_PLACEMENT[app].k8s;
      const found = find<Workload>(objects, kind, name);
      if (!found) throw new Error(`${kind} ${name} (runs ${app}) is missing`);
      return found;
    };
    const appContainer = (app: AppName): Container => {
      const containers = workload(app).spec.template.spec.containers;
      expect(containers).toHaveLength(1);
      return containers[0];
    };

    it('has a Deployment for each deployed app, a Service for ingest and the setup Job', () => {
      for (const app of DEPLOYED) expect(find(objects, 'Deployment', app)).toBeDefined();
      expect(find(objects, 'Job', 'setup')).toBeDefined();
      expect(find(objects, 'Service', 'ingest')).toBeDefined();
    });

    it.each(APPS)('runs %s from the one image through its main.js', (app) => {
      const container = appContainer(app);
      expect([...(container.command ?? []), ...(container.args ?? [])].slice(0, 2)).toEqual(['node', MAIN(app)]);
      expect(container.image).toBe(appContainer('ingest').image);
    });

    it('runs setup as `cli setup`, once, without restarting in place', () => {
      const container = appContainer('cli');
      expect([...(container.command ?? []), ...(container.args ?? [])]).toEqual(['node', MAIN('cli'), 'setup']);
      expect(workload('cli').spec.template.spec).toMatchObject({ restartPolicy: 'Never' });
    });

    it.each(APPS)('gives %s every variable it reads, with values its config accepts', (app) => {
      const { env, problems } = containerEnv(appContainer(app), withSecret);
      expect({ app, problems }).toEqual({ app, problems: [] });
      const missing = [...envVarsReadBy(app), ...otelEnvFor(app)].filter((name) => !env.has(name));
      expect({ app, missing }).toEqual({ app, missing: [] });
      const values = Object.fromEntries([...env].map(([k, v]) => [k, v.value]));
      expect(() => loadAppConfig(app, values)).not.toThrow();
      if (DEPLOYED.includes(app)) expect(env.get('OTEL_SERVICE_NAME')?.value).toBe(`asana-stream-${app}`);
    });

    it.each(APPS)('takes the secrets %s reads from a Secret, never from a literal or a ConfigMap', (app) => {
      const { env } = containerEnv(appContainer(app), withSecret);
      const secrets = envVarsReadBy(app).filter((name) => SENSITIVE_KEYS.has(name));
      for (const name of secrets)
        expect({ app, name, source: env.get(name)?.source }).toEqual({ app, name, source: 'secret' });
      const configMaps = objects.filter((o) => o.kind === 'ConfigMap');
      for (const cm of configMaps) expect(Object.keys(cm.data ?? {}).filter((k) => SENSITIVE_KEYS.has(k))).toEqual([]);
    });

    it.each(DEPLOYED)('probes %s on /health/live, /health/ready and a startup probe at its port', (app) => {
      const container = appContainer(app);
      const { env } = containerEnv(container, objects);
      const listening = Number(env.get('PORT')?.value);
      const probePort = (probe: Probe | undefined) => {
        const port = probe?.httpGet?.port;
        return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
      };
      expect(container.livenessProbe?.httpGet?.path).toBe('/health/live');
      expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
      expect(probePort(container.livenessProbe)).toBe(listening);
      expect(probePort(container.readinessProbe)).toBe(listening);
      expect(container.startupProbe?.httpGet?.path).toBe('/health/live');
      expect(probePort(container.startupProbe)).toBe(listening);
    });

    it.each(APPS)('runs %s as non-root on a read-only root filesystem with no capabilities', (app) => {
      const pod = workload(app).spec.template.spec;
      for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const sc = { ...pod.securityContext, ...container.securityContext };
        expect(sc.runAsNonRoot).toBe(true);
        if (sc.runAsUser !== undefined) expect(sc.runAsUser).toBeGreaterThan(0);
        expect(container.securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
        });
        expect(container.securityContext?.capabilities?.drop).toContain('ALL');
      }
    });

    it.each(APPS)('bounds %s with resource requests and limits and gives it time to shut down', (app) => {
      const pod = workload(app).spec.template.spec;
      const { resources } = appContainer(app);
      expect(Object.keys(resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
      expect(Object.keys(resources?.limits ?? {})).toContain('memory');
      const mebibytes = (q: string | undefined) => Number(/^(\d+)Mi$/.exec(q ?? '')?.[1] ?? Number.NaN);
      expect(mebibytes(resources?.requests?.memory)).toBeLessThanOrEqual(mebibytes(resources?.limits?.memory));
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
    });

    it.each(APPS)('labels %s with app.kubernetes.io/* and selects its pods by them', (app) => {
      const w = workload(app);
      expect(w.metadata.labels?.['app.kubernetes.io/name']).toBe(w.metadata.name);
      expect(w.metadata.labels?.['app.kubernetes.io/component']).toBeTruthy();
      const podLabels = w.spec.template.metadata?.labels ?? {};
      expect(podLabels['app.kubernetes.io/name']).toBe(w.metadata.name);
      if (w.kind === 'Deployment')
        expect(podLabels).toMatchObject(w.spec.selector?.matchLabels ?? { missing: 'selector' });
    });

    if (expectations.rendered) {
      it('marks every object as part of asana-stream, managed by kustomize', () => {
        for (const o of objects) {
          const labels = o.metadata.labels ?? {};
          expect({ object: `${o.kind} ${o.metadata.name}`, partOf: labels['app.kubernetes.io/part-of'] }).toEqual({
            object: `${o.kind} ${o.metadata.name}`,
            partOf: 'asana-stream',
          });
        }
        for (const app of APPS) {
          expect(workload(app).spec.template.metadata?.labels).toMatchObject({
            'app.kubernetes.io/part-of': 'asana-stream',
            'app.kubernetes.io/managed-by': 'kustomize',
          });
        }
      });
    }

    it('keeps consumer replicas within the topic partitions (extra consumers sit idle)', () => {
      for (const app of DEPLOYED) {
        const replicas = workload(app).spec.replicas ?? 1;
        expect({ app, replicas: replicas <= TOPIC_PARTITIONS }).toEqual({ app, replicas: true });
        if (expectations.replicas !== undefined)
          expect({ app, replicas }).toEqual({ app, replicas: expectations.replicas });
      }
    });

    it('routes the ingest Service to the ingest pods on a declared container port', () => {
      const service = find<Service>(objects, 'Service', 'ingest')!;
      const pods = workload('ingest').spec.template.metadata?.labels ?? {};
      expect(pods).toMatchObject(service.spec.selector ?? { missing: 'selector' });
      const ports = appContainer('ingest').ports ?? [];
      for (const { targetPort } of service.spec.ports) {
        expect(ports.some((p) => p.name === targetPort || p.containerPort === targetPort)).toBe(true);
      }
    });

    it('matches the schemas of Kubernetes, KEDA, prometheus-operator and Strimzi', () => {
      expect(validateObjects(objects)).toEqual([]);
    });
  });
}

/** The base's Secret: the keys an installation's own Secret must have (docs/deploy.md). */
function baseSecretTemplate(): K8sObject[] {
  return readKustomizationResources(join(REPO_ROOT, 'k8s', 'base')).filter((o) => o.kind === 'Secret');
}

const build = (dir: string) => () => buildKustomization(join(REPO_ROOT, dir));

describeKubernetes('k8s/base, read from its files', () => readKustomizationResources(join(REPO_ROOT, 'k8s', 'base')));
describeKubernetes('k8s/base, built', build('k8s/base'), { rendered: true });
describeKubernetes('k8s/overlays/local, built', build('k8s/overlays/local'), { rendered: true, replicas: 1 });
describeKubernetes('k8s/overlays/dev, built', build('k8s/overlays/dev'), { rendered: true, externalSecret: true });
describeKubernetes('k8s/overlays/prod, built', build('k8s/overlays/prod'), { rendered: true, externalSecret: true });

describe('k8s/overlays/local', () => {
  it('puts every object in the asana-stream namespace and runs the locally built image', () => {
    const objects = buildKustomization(join(REPO_ROOT, 'k8s', 'overlays', 'local'));
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
      expect({ object: `${o.kind} ${o.metadata.name}`, namespace: o.metadata.namespace }).toEqual({
        object: `${o.kind} ${o.metadata.name}`,
        namespace: 'asana-stream',
      });
    }
    for (const app of APPS) {
      const { kind, name } = APP_PLACEMENT[app].k8s;
      expect(find<Workload>(objects, kind, name)?.spec.template.spec.containers[0].image).toBe('asana-stream:local');
    }
  });
});

// Where kubectl is installed, its kustomize is the reference the offline build must agree with.
if (KUBECTL) {
  describe('kubectl kustomize', () => {
    const key = (o: K8sObject) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const sorted = (objects: K8sObject[]) => [...objects].sort((a, b) => key(a).localeCompare(key(b)));
    it.each(kustomizationDirs())('builds %s as buildKustomization does', (dir) => {
      expect(sorted(buildKustomization(join(REPO_ROOT, dir)))).toEqual(sorted(kustomize(join(REPO_ROOT, dir))));
    });
  });
}
