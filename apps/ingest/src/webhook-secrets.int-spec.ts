import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { signAsanaBody } from '@asana-stream/asana';
import { WebhookSecretCipher } from '@asana-stream/config';
import {
  AppProcess,
  createTestDatabase,
  createTestTopics,
  freePort,
  runCli,
  startSimulatorProcess,
  TEST_BROKERS,
  TEST_WEBHOOK_SECRET_KEY_BYTES,
  TEST_WEBHOOK_SECRET_KEYS,
  testWebhookSecretCipher,
  waitFor,
  type SimulatorProcess,
  type TestDatabase,
} from '@asana-stream/testing';

const LOG_DIR = join(resolve(__dirname, '../../..'), '.local/test-processes', `webhook-secrets-${Date.now()}`);

/**
 * Webhook secrets at rest, end to end through the real processes: the cli creates a webhook on the
 * simulator, whose handshake reaches ingest (run through its production entrypoint with
 * LOG_LEVEL=debug); Asana's deliveries are verified; then the failures an operator could meet. The
 * key and the secret appear nowhere: not in ingest's log, the cli's output or any HTTP answer.
 */
describe('webhook secrets encrypted at rest, through ingest, the cli and the simulator', () => {
  let db: TestDatabase;
  let sql: Client;
  let simulator: SimulatorProcess;
  let ingest: AppProcess;
  let prefix: string;
  /** Everything the cli printed and ingest answered, looked through at the end. */
  const seen: string[] = [];
  let subscriptionId: string;
  let secret: string;

  const storedSecret = async (id: string) =>
    (await sql.query<{ secret: string | null }>(/* sql */ `SELECT secret FROM subscriptions WHERE id = $1`, [id]))
      .rows[0]?.secret ?? null;
  const post = async (id: string, body: string, headers: Record<string, string>) => {
    const response = await fetch(`${ingest.url}/webhooks/asana/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await response.text();
    seen.push(text);
    return { status: response.status, text };
  };

  beforeAll(async () => {
    [db, { prefix }] = await Promise.all([createTestDatabase(), createTestTopics()]);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    simulator = await startSimulatorProcess({ SIM_DELIVERY_DELAY_MS: '20' }, LOG_DIR);
    ingest = await new AppProcess({
      app: 'ingest',
      port: await freePort(),
      logDir: LOG_DIR,
      env: {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: prefix,
        LOG_LEVEL: 'debug',
        INGEST_SUBSCRIPTION_CACHE_MS: '0',
      },
    }).start();
  });

  afterAll(async () => {
    await ingest?.stop();
    await simulator?.stop();
    await sql?.end();
    await db?.drop();
  });

  it('stores the secret of a webhook the cli creates encrypted, and verifies its deliveries with it', async () => {
    const state = (await (await fetch(`${simulator.baseUrl}/_sim/state`)).json()) as {
      data: { projects: { gid: string }[]; tasks: { gid: string; projects: { gid: string }[] }[] };
    };
    const project = state.data.projects[0].gid;
    const created = await runCli(
      {
        DATABASE_URL: db.url,
        ASANA_BASE_URL: simulator.apiUrl,
        ASANA_TOKEN: simulator.token,
        INGEST_PUBLIC_URL: ingest.url,
        LOG_LEVEL: 'debug',
      },
      ['webhooks', 'create', '--resource', project, '--json'],
    );
    seen.push(created.stdout, created.stderr);
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const subscription = JSON.parse(created.stdout) as { id: string; webhookGid: string; status: string };
    expect(subscription.status).toBe('active');
    subscriptionId = subscription.id;
    secret = (
      (await (await fetch(`${simulator.baseUrl}/_sim/webhooks/${subscription.webhookGid}/secret`)).json()) as {
        data: { secret: string };
      }
    ).data.secret;

    const stored = (await storedSecret(subscriptionId))!;
    expect(stored).toMatch(/^enc:v1:test:/);
    expect(testWebhookSecretCipher().decrypt(subscriptionId, stored)).toBe(secret);

    // A change in the project: Asana's delivery is signed with the secret and accepted.
    const task = state.data.tasks.find((t) => t.projects.some(({ gid }) => gid === project))!.gid;
    const renamed = await fetch(`${simulator.apiUrl}/tasks/${task}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${simulator.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { name: 'renamed while secrets are encrypted' } }),
    });
    expect(renamed.status).toBe(200);
    await waitFor('a delivery accepted for the new subscription', async () => {
      const { rows } = await sql.query<{ last_delivery_at: Date | null }>(
        /* sql */ `SELECT last_delivery_at FROM subscriptions WHERE id = $1`,
        [subscriptionId],
      );
      return rows[0]?.last_delivery_at !== null;
    });
    const body = '{"events":[]}';
    expect((await post(subscriptionId, body, { 'x-hook-signature': signAsanaBody(secret, body) })).status).toBe(200);
    expect(
      (await post(subscriptionId, body, { 'x-hook-signature': signAsanaBody('not-the-secret', body) })).status,
    ).toBe(401);
  });

  it('answers 503 and logs what to do, never the key, for a secret it cannot open', async () => {
    const body = '{"events":[]}';
    const other = randomUUID();
    // Sealed for another row, then under a key ingest was not given.
    await sql.query(
      /* sql */ `INSERT INTO subscriptions (id, resource_gid, target_url, secret, status) VALUES ($1, '1', 'http://x', $2, 'active')`,
      [other, testWebhookSecretCipher().encrypt(subscriptionId, secret)],
    );
    const copied = await post(other, body, { 'x-hook-signature': signAsanaBody(secret, body) });
    expect(copied.status).toBe(503);
    expect(JSON.parse(copied.text)).toMatchObject({ error: 'CONFIG_INVALID' });

    const otherKey = WebhookSecretCipher.fromKeyRing(`gone:${Buffer.alloc(32, 9).toString('base64')}`);
    await sql.query(/* sql */ `UPDATE subscriptions SET secret = $2 WHERE id = $1`, [
      other,
      otherKey.encrypt(other, secret),
    ]);
    expect((await post(other, body, { 'x-hook-signature': signAsanaBody(secret, body) })).status).toBe(503);

    await waitFor('the operator told about the unknown key id', () =>
      readFileSync(ingest.logFile, 'utf8').includes(
        `sealed with key id gone, which WEBHOOK_SECRET_KEYS does not list (it lists test)`,
      ),
    );
    expect(readFileSync(ingest.logFile, 'utf8')).toMatch(/does not open with key test/);
  });

  it('never prints, logs or answers the key or a secret', () => {
    const log = readFileSync(ingest.logFile, 'utf8');
    // What was looked through holds the run: ingest's lines (at LOG_LEVEL=debug), its refusals
    // and the cli's output.
    expect(log).toContain('"msg":"ingest started"');
    expect(log).toContain('"code":"BAD_SIGNATURE"');
    expect(seen.join('\n')).toContain(subscriptionId);
    const everything = [log, ...seen].join('\n');
    const forms = [
      TEST_WEBHOOK_SECRET_KEYS,
      ...(['base64', 'base64url', 'hex', 'utf8'] as const).map((encoding) =>
        TEST_WEBHOOK_SECRET_KEY_BYTES.toString(encoding),
      ),
      secret,
      Buffer.from(secret).toString('base64'),
    ];
    for (const form of forms)
      expect({ found: everything.includes(form), form: form.slice(0, 6) }).toEqual({
        found: false,
        form: form.slice(0, 6),
      });
  });
});
