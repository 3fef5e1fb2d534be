import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
} from 'prom-client';

/**
 * The process's one registry: every metric of the libs and the app is registered here, and
 * `GET /metrics` (libs/runtime) serves it as Prometheus text. Not prom-client's global one, so
 * nothing a dependency registers there is served by accident.
 */
export const metricsRegistry = new Registry();

/** Every metric name starts with this. */
export const METRIC_PREFIX = 'asana_stream_';

let processMetricsStarted = false;

/**
 * Labels every metric of the process with `app` and starts prom-client's process and Node
 * metrics (CPU, memory, event loop lag, GC, handles), under their usual names (`process_*`,
 * `nodejs_*`) so stock Node.js dashboards work. Once per process; a later call only relabels.
 */
export function startProcessMetrics(app: string): void {
  metricsRegistry.setDefaultLabels({ app });
  if (processMetricsStarted) return;
  processMetricsStarted = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/** The registry's Prometheus text exposition, and the content type to serve it with. */
export async function metricsExposition(): Promise<{ contentType: string; text: string }> {
  return { contentType: metricsRegistry.contentType, text: await metricsRegistry.metrics() };
}

type Kind<M> = new (...args: never[]) => M;

/**
 * The metric registered under `name`, made once: a module loaded twice in one process (two
 * copies of a lib) shares it instead of failing on the duplicate name.
 */
function registered<M extends Metric>(kind: Kind<M>, name: string, make: () => M): M {
  const found = metricsRegistry.getSingleMetric(name);
  if (found === undefined) return make();
  if (!(found instanceof kind)) throw new Error(`metric ${name} is already registered as another type`);
  return found;
}

function checkName(name: string): void {
  if (!name.startsWith(METRIC_PREFIX)) throw new Error(`metric ${name} must start with ${METRIC_PREFIX}`);
}

export function counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  checkName(config.name);
  return registered(Counter<L>, config.name, () => new Counter<L>({ ...config, registers: [metricsRegistry] }));
}

export function gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  checkName(config.name);
  return registered(Gauge<L>, config.name, () => new Gauge<L>({ ...config, registers: [metricsRegistry] }));
}

export function histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
  checkName(config.name);
  return registered(Histogram<L>, config.name, () => new Histogram<L>({ ...config, registers: [metricsRegistry] }));
}
