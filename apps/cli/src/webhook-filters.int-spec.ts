import { join, resolve } from 'node:path';
import { Client } from 'pg';
import {
  AppProcess,
  createTestDatabase,
  createTestTopics,
  freePort,
  runCli,
  startSimulatorProcess,
  waitFor,
  TEST_BROKERS,
  type SimulatorProcess,
  type TestDatabase,
} from '@asana-stream/testing';

const LOG_DIR = join(resolve(__dirname, '../../..'), '.local/test-processes', `webhook-filters-${Date.now()}`);

interface SubscriptionRow {
  id: string;
  webhook_gid: string | null;
  resource_gid: string;
  resource_type: string | null;
  filters: unknown;
  status: string;
  deleted_reason: string | null;
  replaced_by: string | null;
}

/** The filters of a webhook on the workspace, as `--filter project:added --filter task:changed` says them. */
const FILTERS = [
  { resource_type: 'project', action: 'added' },
  { resource_type: 'task', action: 'changed' },
];

/**
 * Webhook filters end to end through the real processes: the cli creates a workspace webhook with
 * `--filter` on the simulator (its handshake through ingest), the subscription keeps them, and a
 * rotation and the enricher's re-creation of a webhook Asana deleted make the new one with them.
 */
describe('webhooks create --filter, kept through rotation and re-creation (cli, ingest, enricher, simulator)', () => {
  let db: TestDatabase;
  let sql: Client;
  let simulator: SimulatorProcess;
  let ingest: AppProcess;
  let enricher: AppProcess | undefined;
  let prefix: string;
  let workspace: string;

  const cliEnv = () => ({
    DATABASE_URL: db.url,
    ASANA_BASE_URL: simulator.apiUrl,
    ASANA_TOKEN: simulator.token,
    INGEST_PUBLIC_URL: ingest.url,
  });
  const subscriptions = async () =>
    (await sql.query<SubscriptionRow>(/* sql */ `SELECT * FROM subscriptions ORDER BY created_at, id`)).rows;
  async function asana<T>(method: string, path: string): Promise<{ status: number; data: T }> {
    const response = await fetch(`${simulator.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${simulator.token}` },
    });
    return { status: response.status, data: ((await response.json()) as { data: T }).data };
  }
  const webhookInAsana = async (gid: string) =>
    (await asana<{ resource: { gid: string; resource_type: string }; filters: unknown }>('GET', `/webhooks/${gid}`))
      .data;

  beforeAll(async () => {
    [db, { prefix }] = await Promise.all([createTestDatabase(), createTestTopics()]);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    simulator = await startSimulatorProcess({ SIM_DELIVERY_DELAY_MS: '20', SIM_RATE_LIMIT_REQUESTS: '0' }, LOG_DIR);
    ingest = await new AppProcess({
      app: 'ingest',
      port: await freePort(),
      logDir: LOG_DIR,
      env: {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: prefix,
        INGEST_SUBSCRIPTION_CACHE_MS: '0',
      },
    }).start();
    workspace = (await asana<{ gid: string }[]>('GET', '/workspaces')).data[0].gid;
  });

  afterAll(async () => {
    await enricher?.stop();
    await ingest?.stop();
    await simulator?.stop();
    await sql?.end();
    await db?.drop();
  });

  it('refuses a malformed --filter before anything is made, saying what is wrong and what the form is', async () => {
    const run = await runCli(cliEnv(), [
      'webhooks',
      'create',
      '--resource',
      workspace,
      '--filter',
      'project:added',
      '--filter',
      'task:added:due_on',
    ]);
    expect({ code: run.code, stderr: run.stderr.trim() }).toEqual({
      code: 1,
      stderr:
        'asana-stream: --filter "task:added:due_on": fields are only valid with the action changed (Asana says so) ' +
        '(the form is resource_type[/resource_subtype][:action[:field,field,…]], e.g. task:changed:due_on)',
    });
    expect(await subscriptions()).toEqual([]);
  });

  it('passes on Asana’s refusal of a workspace webhook without filters, with a hint at --filter', async () => {
    const run = await runCli(cliEnv(), ['webhooks', 'create', '--resource', workspace]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toBe(
      'asana-stream: Asana did not create the webhook: POST /webhooks → 400: filters: Webhooks on a workspace must have filters ' +
        '(a webhook on a workspace, team or portfolio must have at least one --filter: see `webhooks create --help`)',
    );
    expect(await subscriptions()).toEqual([expect.objectContaining({ resource_gid: workspace, status: 'deleted' })]);
  });

  it('documents --filter in --help', async () => {
    const run = await runCli(cliEnv(), ['webhooks', 'create', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--filter <filter>');
    expect(run.stdout).toContain('resource_type[/resource_subtype][:action[:field,field,…]]');
  });

  let created: SubscriptionRow;

  it('creates a workspace webhook with the filters in Asana, and the subscription keeps them', async () => {
    const run = await runCli(cliEnv(), [
      'webhooks',
      'create',
      '--resource',
      workspace,
      '--filter',
      'project:added',
      '--filter',
      'task:changed',
      '--json',
    ]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const printed = JSON.parse(run.stdout) as { id: string; webhookGid: string; filters: unknown; status: string };
    expect(printed).toMatchObject({ status: 'active', filters: FILTERS, resourceType: 'workspace' });
    created = (await subscriptions()).find((row) => row.id === printed.id)!;
    expect(created).toMatchObject({ status: 'active', resource_type: 'workspace', filters: FILTERS });
    expect(await webhookInAsana(printed.webhookGid)).toMatchObject({
      resource: { gid: workspace, resource_type: 'workspace' },
      filters: FILTERS,
    });
  });

  it('rotation makes the new webhook with the same filters', async () => {
    const run = await runCli(cliEnv(), ['webhooks', 'rotate', created.id, '--overlap', '0', '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const rotated = JSON.parse(run.stdout) as { id: string; webhookGid: string };
    const rows = await subscriptions();
    expect(rows.find((row) => row.id === created.id)).toMatchObject({
      status: 'deleted',
      deleted_reason: 'rotated',
      replaced_by: rotated.id,
    });
    expect(rows.find((row) => row.id === rotated.id)).toMatchObject({ status: 'active', filters: FILTERS });
    expect(await webhookInAsana(rotated.webhookGid)).toMatchObject({ filters: FILTERS });
    expect((await asana('GET', `/webhooks/${created.webhook_gid}`)).status).toBe(404);
    created = rows.find((row) => row.id === rotated.id)!;
  });

  it('the enricher makes a webhook Asana deleted again with the same filters', async () => {
    enricher = await new AppProcess({
      app: 'enricher',
      port: await freePort(),
      logDir: LOG_DIR,
      env: {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: prefix,
        ASANA_BASE_URL: simulator.apiUrl,
        ASANA_TOKEN: simulator.token,
        INGEST_PUBLIC_URL: ingest.url,
        WEBHOOK_CHECK_INTERVAL_MS: '200',
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
    }).start();
    // Asana deletes the webhook (as after 24 hours of failed deliveries).
    expect((await asana('DELETE', `/webhooks/${created.webhook_gid}`)).status).toBe(200);
    const replacement = await waitFor('the webhook made again', async () => {
      const rows = await subscriptions();
      const old = rows.find((row) => row.id === created.id);
      return old?.replaced_by ? rows.find((row) => row.id === old.replaced_by) : undefined;
    });
    expect(replacement).toMatchObject({
      status: 'active',
      resource_gid: workspace,
      resource_type: 'workspace',
      filters: FILTERS,
    });
    expect(await webhookInAsana(replacement.webhook_gid!)).toMatchObject({
      resource: { gid: workspace, resource_type: 'workspace' },
      filters: FILTERS,
    });
  });
});
