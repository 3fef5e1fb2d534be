import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { FRESHNESS_BUCKETS_SECONDS } from '@asana-stream/metrics';
import { composeEnv, readCompose } from '../deploy/manifests';
import {
  allPanels,
  checkDashboard,
  checkExpression,
  checkRuleFile,
  declaredMetricNames,
  exposedSeries,
  filesIn,
  OBSERVABILITY_DIR,
  parsePromQL,
  recordedSeries,
  REPO_ROOT,
  type KnownSeries,
  type Panel,
  type Rule,
  type RuleFile,
} from './observability-checks';

/*
 * observability/ against the code, offline: the Prometheus rules and the Grafana dashboards may
 * only select series the apps expose (read from libs/metrics' registry with every metric module
 * loaded, not from a list kept here), or the rules record; the provisioning, the scrape config and
 * docker-compose.yml must agree with each other.
 */

const PROMETHEUS_DIR = join(OBSERVABILITY_DIR, 'prometheus');
const GRAFANA_DIR = join(OBSERVABILITY_DIR, 'grafana');
const DEPLOYED = ['ingest', 'enricher', 'projector', 'fanout'];
const read = (file: string) => readFileSync(join(REPO_ROOT, file), 'utf8');
const readYaml = (file: string): unknown => parse(read(file));

/** A compose service's mounts as [source, target, mode] (the short syntax split, or the long one). */
const mountsOf = (name: string): string[][] =>
  (readCompose().services[name]?.volumes ?? []).map((volume) =>
    typeof volume === 'string'
      ? volume.split(':')
      : [volume.source ?? '', volume.target ?? '', ...((volume as { read_only?: boolean }).read_only ? ['ro'] : [])],
  );

const ruleFiles = filesIn(PROMETHEUS_DIR, ['.yml', '.yaml']).filter((file) => !file.endsWith('/prometheus.yml'));
const dashboardFiles = filesIn(join(GRAFANA_DIR, 'dashboards'), ['.json']);
const alerts = (): Rule[] =>
  ruleFiles.flatMap((file) =>
    (readYaml(file) as RuleFile).groups.flatMap((group) => group.rules.filter((rule) => rule.alert)),
  );

let exposed: Map<string, KnownSeries>;
let known: Map<string, KnownSeries>;

beforeAll(async () => {
  exposed = await exposedSeries();
  known = new Map([...exposed, ...recordedSeries(ruleFiles.map(readYaml))]);
});

describe('the exposition the checks hold the rules against', () => {
  it('holds every metric the apps and libs declare, with the process metrics and up', () => {
    const declared = declaredMetricNames();
    expect(declared.length).toBeGreaterThan(30);
    const exposedAsFamily = (name: string) => exposed.has(name) || exposed.has(`${name}_bucket`);
    expect(declared.filter((name) => !exposedAsFamily(name))).toEqual([]);
    for (const name of ['up', 'process_cpu_seconds_total', 'asana_stream_fanout_freshness_seconds_bucket'])
      expect(exposed.has(name)).toBe(true);
    expect(exposed.has('asana_stream_fanout_freshness_seconds')).toBe(false);
  });

  it('knows the labels of each series, the target labels and a bucket’s le included', () => {
    expect([...(exposed.get('asana_stream_kafka_consumer_lag_messages')?.labels ?? [])].sort()).toEqual(
      ['app', 'instance', 'job', 'partition', 'topic'].sort(),
    );
    expect(exposed.get('asana_stream_fanout_freshness_seconds_bucket')?.labels?.has('le')).toBe(true);
    expect(exposed.get('asana_stream_fanout_freshness_seconds_count')?.labels?.has('le')).toBe(false);
  });
});

describe('observability/prometheus', () => {
  it('has rule files, and prometheus.yml loads each of them', () => {
    expect(ruleFiles).toEqual(expect.arrayContaining(['observability/prometheus/alerts.yml']));
    const config = readYaml('observability/prometheus/prometheus.yml') as { rule_files: string[] };
    expect([...config.rule_files].sort()).toEqual(ruleFiles.map((file) => file.split('/').pop()).sort());
  });

  it.each(ruleFiles)('%s parses and every rule in it holds', (file) => {
    expect(checkRuleFile(readYaml(file), known)).toEqual([]);
  });

  it('names each alert once and covers what the runbooks describe', () => {
    const names = alerts().map((rule) => rule.alert);
    expect(new Set(names).size).toBe(names.length);
    const selected = (rule: Rule) => parsePromQL(rule.expr).selectors.map((selector) => selector.metric);
    const alerting = alerts().flatMap(selected);
    for (const metric of [
      'up',
      'asana_stream_webhook_last_contact_age_seconds',
      'asana_stream_kafka_consumer_dead_letters_total',
      'asana_stream_kafka_consumer_lag_messages',
      'asana_stream:fanout_freshness_slow_ratio:rate1h',
      'asana_stream:fanout_freshness_slow_ratio:rate5m',
      'asana_stream_ingest_deliveries_total',
      'asana_stream_asana_budget_exhausted_total',
      'asana_stream_fanout_parked_rows',
    ])
      expect({ metric, alerted: alerting.includes(metric) }).toEqual({ metric, alerted: true });
  });

  it("keeps the freshness objective's 10 s a bucket bound of the histogram its recordings read", () => {
    expect(FRESHNESS_BUCKETS_SECONDS).toContain(10);
    expect(read('observability/prometheus/recording-rules.yml')).toContain(
      'asana_stream_fanout_freshness_seconds_bucket{le=~"10(\\\\.0)?"}',
    );
  });

  it('scrapes every deployed app at the port compose gives it, as the job the alerts select', () => {
    const config = readYaml('observability/prometheus/prometheus.yml') as {
      scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[];
    };
    const job = config.scrape_configs.find((scrape) => scrape.job_name === 'asana-stream');
    const targets = job?.static_configs.flatMap((group) => group.targets) ?? [];
    const { services } = readCompose();
    expect(targets.sort()).toEqual(DEPLOYED.map((app) => `${app}:${composeEnv(services[app]).get('PORT')}`).sort());
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    for (const rule of alerts().filter((r) => /\bup\b/.test(r.expr))) expect(rule.expr).toContain('job="asana-stream"');
  });
});

describe('docs/runbooks', () => {
  it('links every runbook page from the overview, beside the alerts that use it', () => {
    const overview = read('docs/runbooks.md');
    for (const page of filesIn(join(REPO_ROOT, 'docs', 'runbooks'), ['.md'])) {
      const link = page.replace(/^docs\//, '');
      expect({ page, linked: overview.includes(`](${link})`) }).toEqual({ page, linked: true });
    }
    for (const rule of alerts())
      expect({ alert: rule.alert, listed: overview.includes(`\`${rule.alert}\``) }).toEqual({
        alert: rule.alert,
        listed: true,
      });
  });
});

describe('the checks refuse a broken rule', () => {
  const withRule = (rule: Partial<Rule>): RuleFile => ({
    groups: [
      {
        name: 'broken',
        rules: [
          {
            alert: 'Broken',
            expr: 'up == 0',
            labels: { severity: 'warning' },
            annotations: { summary: 's', description: 'd', runbook_url: 'docs/runbooks/app-down.md' },
            ...rule,
          },
        ],
      },
    ],
  });

  it('passes the well-formed rule it starts from', () => {
    expect(checkRuleFile(withRule({}), known)).toEqual([]);
  });

  it.each<[string, Partial<Rule> | RuleFile, RegExp]>([
    [
      'an expression that does not parse',
      { expr: 'sum(rate(asana_stream_ingest_deliveries_total[5m])' },
      /PromQL does not parse/,
    ],
    [
      'a metric no app exposes',
      { expr: 'rate(asana_stream_ingest_deliverys_total[5m]) > 0' },
      /asana_stream_ingest_deliverys_total, which no app exposes/,
    ],
    ['a histogram named without its suffix', { expr: 'asana_stream_fanout_freshness_seconds > 1' }, /no app exposes/],
    [
      'a label the metric has not',
      { expr: 'asana_stream_fanout_parked_rows{topic="x"} > 0' },
      /label topic, which asana_stream_fanout_parked_rows has not/,
    ],
    [
      'rate of an instant vector',
      { expr: 'rate(asana_stream_ingest_deliveries_total) > 0' },
      /rate\(\) needs a range vector/,
    ],
    [
      'a range vector compared',
      { expr: 'asana_stream_fanout_parked_rows[5m] > 0' },
      /outside a function that takes one/,
    ],
    ['a selector without a metric name', { expr: '{app="ingest"} > 0' }, /without naming a metric/],
    [
      'a runbook that does not exist',
      { annotations: { summary: 's', description: 'd', runbook_url: 'docs/runbooks/nowhere.md' } },
      /does not exist/,
    ],
    [
      'a runbook_url outside docs/runbooks',
      { annotations: { summary: 's', description: 'd', runbook_url: 'https://example.com/x' } },
      /not a page of docs\/runbooks/,
    ],
    ['no runbook_url', { annotations: { summary: 's', description: 'd' } }, /has no runbook_url/],
    ['no severity', { labels: {} }, /severity must be one of/],
    ['a bad duration', { for: '5 minutes' }, /is not a duration/],
    [
      'a label the aggregation drops',
      {
        expr: 'sum(up) == 0',
        annotations: { summary: '{{ $labels.instance }}', description: 'd', runbook_url: 'docs/runbooks/app-down.md' },
      },
      /aggregates away/,
    ],
    ['both alert and record', { record: 'x:y' }, /exactly one of alert and record/],
    ['a key Prometheus does not know', { severity: 'critical' } as Partial<Rule>, /unknown key severity/],
    ['a file without groups', { group: [] } as unknown as RuleFile, /has no `groups` list/],
  ])('refuses %s', (_what, broken, problem) => {
    const file = 'groups' in broken || 'group' in broken ? broken : withRule(broken);
    const problems = checkRuleFile(file, known);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
  });

  it('reads a metric named by __name__ like one named plainly', () => {
    expect(checkExpression('{__name__="asana_stream_nope"}', known)).toEqual([
      expect.stringMatching(/asana_stream_nope/),
    ]);
    expect(checkExpression('{__name__="up", job="asana-stream"} == 0', known)).toEqual([]);
  });
});

describe('observability/grafana', () => {
  const provisionedUids = () => {
    const files = filesIn(join(GRAFANA_DIR, 'provisioning', 'datasources'), ['.yml', '.yaml']);
    return new Set(
      files.flatMap((file) => (readYaml(file) as { datasources: { uid: string }[] }).datasources.map((ds) => ds.uid)),
    );
  };

  it('provisions a Prometheus datasource under a fixed uid, at the Prometheus compose runs', () => {
    const { apiVersion, datasources } = readYaml('observability/grafana/provisioning/datasources/prometheus.yml') as {
      apiVersion: number;
      datasources: { uid: string; type: string; url: string }[];
    };
    expect(apiVersion).toBe(1);
    expect(datasources).toEqual([expect.objectContaining({ type: 'prometheus', uid: expect.any(String) })]);
    const url = new URL(datasources[0].url);
    expect(url.hostname in readCompose().services).toBe(true);
    expect(url.port).toBe('9090');
  });

  it('has dashboards', () => {
    expect(dashboardFiles).toEqual(['observability/grafana/dashboards/asana-stream-overview.json']);
  });

  it.each(dashboardFiles)(
    '%s parses; every panel queries the provisioned datasource with PromQL that names real series',
    (file) => {
      const dashboard = JSON.parse(read(file)) as { panels: Panel[] };
      expect(checkDashboard(dashboard, known, provisionedUids())).toEqual([]);
    },
  );

  it('charts the overview: deliveries, stages, lag, freshness, dead letters, outbox, Asana, repairs, webhooks', () => {
    const dashboard = JSON.parse(read('observability/grafana/dashboards/asana-stream-overview.json')) as {
      panels: Panel[];
    };
    const charted = new Set(
      allPanels(dashboard).flatMap((panel) =>
        (panel.targets ?? []).flatMap((target) => parsePromQL(target.expr ?? '').selectors.map((s) => s.metric)),
      ),
    );
    for (const metric of [
      'asana_stream_ingest_deliveries_total',
      'asana_stream_kafka_consumer_messages_total',
      'asana_stream_kafka_consumer_handler_duration_seconds_bucket',
      'asana_stream_kafka_consumer_lag_messages',
      'asana_stream_fanout_freshness_seconds_bucket',
      'asana_stream_kafka_consumer_dead_letters_total',
      'asana_stream_fanout_parked_rows',
      'asana_stream_asana_requests_total',
      'asana_stream_resync_repairs_total',
      'asana_stream_webhook_last_contact_age_seconds',
      'asana_stream_webhook_checks_total',
    ])
      expect({ metric, charted: charted.has(metric) }).toEqual({ metric, charted: true });
  });

  it('refuses a panel on another datasource, a query naming a series that does not exist, a legend naming a label it lacks', () => {
    const panel = (datasource: string, expr: string): Panel => ({
      id: 1,
      type: 'timeseries',
      title: 'p',
      datasource: { type: 'prometheus', uid: datasource },
      targets: [{ refId: 'A', datasource: { type: 'prometheus', uid: datasource }, expr }],
    });
    const uids = provisionedUids();
    const uid = [...uids][0];
    expect(checkDashboard({ uid: 'd', title: 't', panels: [panel(uid, 'up')] }, known, uids)).toEqual([]);
    expect(checkDashboard({ uid: 'd', title: 't', panels: [panel('other', 'up')] }, known, uids)).toEqual([
      expect.stringMatching(/datasource other is not one the provisioning declares/),
      expect.stringMatching(/datasource other is not one the provisioning declares/),
    ]);
    expect(
      checkDashboard(
        { uid: 'd', title: 't', panels: [panel(uid, 'rate(asana_stream_nope_total[$__rate_interval])')] },
        known,
        uids,
      ),
    ).toEqual([expect.stringMatching(/asana_stream_nope_total, which no app exposes/)]);
    const legended = panel(uid, 'sum by (app) (rate(asana_stream_ingest_deliveries_total[$__rate_interval]))');
    legended.targets![0].legendFormat = '{{app}} {{outcome}}';
    expect(checkDashboard({ uid: 'd', title: 't', panels: [legended] }, known, uids)).toEqual([
      expect.stringMatching(/legend uses \{\{outcome\}\}/),
    ]);
    const upLegend = panel(uid, 'up');
    upLegend.targets![0].legendFormat = '{{app}}';
    expect(checkDashboard({ uid: 'd', title: 't', panels: [upLegend] }, known, uids)).toEqual([
      expect.stringMatching(/legend uses \{\{app\}\}/),
    ]);
    expect(
      checkDashboard({ uid: 'd', title: 't', panels: [panel(uid, 'rate(up[$interval_typo])')] }, known, uids),
    ).toEqual(expect.arrayContaining([expect.stringMatching(/unknown variable \$interval_typo/)]));
  });

  it('loads the dashboards from where compose mounts them', () => {
    const { providers } = readYaml('observability/grafana/provisioning/dashboards/asana-stream.yml') as {
      providers: { type: string; options: { path: string } }[];
    };
    const mounts = mountsOf('grafana');
    expect(providers).toHaveLength(1);
    expect(mounts).toEqual(
      expect.arrayContaining([['./observability/grafana/dashboards', providers[0].options.path, 'ro']]),
    );
  });
});

describe('docker-compose.yml', () => {
  const { services } = readCompose();

  it('runs Prometheus and Grafana from official images at pinned versions', () => {
    expect(services.prometheus?.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(services.grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
  });

  it('gives Prometheus this config and its rules, and Grafana its provisioning', () => {
    expect(mountsOf('prometheus')).toEqual(
      expect.arrayContaining([['./observability/prometheus', '/etc/prometheus', 'ro']]),
    );
    expect(mountsOf('grafana')).toEqual(
      expect.arrayContaining([['./observability/grafana/provisioning', '/etc/grafana/provisioning', 'ro']]),
    );
    for (const [source] of [...mountsOf('prometheus'), ...mountsOf('grafana')].filter(([s]) => s.startsWith('.')))
      expect({ source, exists: existsSync(join(REPO_ROOT, source)) }).toEqual({ source, exists: true });
  });
});
