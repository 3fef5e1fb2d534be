import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { parseWebhookSecretKeys, storedSecretForm, WebhookSecretCipher } from '@asana-stream/config';
import { createTestDatabase, runCli, type TestDatabase } from '@asana-stream/testing';
import type { ReencryptSummary } from './commands/secrets.command';

const key = () => randomBytes(32).toString('base64');
const K1 = `k1:${key()}`;
const K2 = `k2:${key()}`;
const K0 = `k0:${key()}`;
const cipherOf = (keys: string) => WebhookSecretCipher.fromKeyRing(keys);
const secretOf = (n: number) => `webhook-secret-number-${n}-${randomBytes(8).toString('hex')}`;

describe('asana-stream secrets, against a real database', () => {
  let db: TestDatabase;
  let sql: Client;
  /** Each subscription's secret, as Asana and ingest know it. */
  const secrets = new Map<string, string>();
  const cli = (keys: string, ...args: string[]) =>
    runCli({ DATABASE_URL: db.url, WEBHOOK_SECRET_KEYS: keys }, args, { timeoutMs: 30_000 });
  const stored = async () =>
    new Map(
      (
        await sql.query<{ id: string; secret: string }>(
          /* sql */ `SELECT id, secret FROM subscriptions WHERE secret IS NOT NULL ORDER BY id`,
        )
      ).rows.map(({ id, secret }) => [id, secret]),
    );
  const insert = async (secret: string | null, store: (id: string) => string | null, status = 'active') => {
    const id = randomUUID();
    await sql.query(
      /* sql */ `INSERT INTO subscriptions (id, resource_gid, target_url, secret, status) VALUES ($1, '1100', $2, $3, $4)`,
      [id, `http://ingest.test/webhooks/asana/${id}`, store(id), status],
    );
    if (secret !== null) secrets.set(id, secret);
    return id;
  };
  /** Nothing a command prints may hold a key or a secret. */
  const expectNothingSecretIn = (text: string) => {
    for (const entry of [K0, K1, K2]) {
      const [{ key: bytes }] = parseWebhookSecretKeys(entry);
      for (const encoding of ['base64', 'base64url', 'hex'] as const)
        expect(text).not.toContain(bytes.toString(encoding));
    }
    for (const secret of secrets.values()) expect(text).not.toContain(secret);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    let n = 0;
    // Stored before encryption (plaintext), under the old key k1 (one of them deleted), under the
    // current key k2, and one without a secret yet.
    for (let i = 0; i < 3; i++) {
      const secret = secretOf(n++);
      await insert(secret, () => secret);
    }
    for (let i = 0; i < 250; i++) {
      const secret = secretOf(n++);
      await insert(secret, (id) => cipherOf(K1).encrypt(id, secret), i === 0 ? 'deleted' : 'active');
    }
    const current = secretOf(n);
    await insert(current, (id) => cipherOf(K2).encrypt(id, current));
    await insert(null, () => null, 'pending_handshake');
  });

  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it('generate-key prints only a new entry the key ring accepts', async () => {
    const first = await runCli({}, ['secrets', 'generate-key', '--id', 'k9']);
    const second = await runCli({}, ['secrets', 'generate-key', '--id', 'k9']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^k9:[A-Za-z0-9+/]{43}=\n$/);
    expect(first.stdout).not.toBe(second.stdout);
    expect(parseWebhookSecretKeys(first.stdout.trim())[0].key).toHaveLength(32);
    expect(first.stderr).toMatch(/put it first in WEBHOOK_SECRET_KEYS/);
  });

  it('reencrypt --dry-run counts what would change and changes nothing', async () => {
    const before = await stored();
    const run = await cli(`${K2},${K1}`, 'secrets', 'reencrypt', '--dry-run', '--json');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      currentKeyId: 'k2',
      dryRun: true,
      rows: 254,
      current: 1,
      encrypted: 3,
      reencrypted: { k1: 250 },
      changedMeanwhile: 0,
      unreadable: [],
    } satisfies ReencryptSummary);
    expect(await stored()).toEqual(before);
  });

  it('reencrypt moves every secret to the current key, with progress, and the old key is no longer needed', async () => {
    const run = await cli(`${K2},${K1}`, 'secrets', 'reencrypt');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(
      '254 webhook secrets: 1 already under k2, 3 plaintext encrypted, 250 under older keys re-encrypted (k1: 250), 0 unreadable',
    );
    // One progress line per batch of 200.
    expect(run.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^200 of 254 rows looked at: /),
      expect.stringMatching(/^254 of 254 rows looked at: /),
    ]);
    expectNothingSecretIn(run.stdout + run.stderr);

    const after = await stored();
    expect(after.size).toBe(254);
    const onlyK2 = cipherOf(K2);
    for (const [id, value] of after) {
      expect(storedSecretForm(value)).toEqual({ kind: 'encrypted', version: 'v1', keyId: 'k2' });
      expect(onlyK2.decrypt(id, value)).toBe(secrets.get(id));
    }

    const again = await cli(K2, 'secrets', 'reencrypt', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ rows: 254, current: 254, encrypted: 0, reencrypted: {} });
    expect(await stored()).toEqual(after);
  });

  it('reencrypt leaves a secret under a key it is not given as it is, names the key id and exits 1', async () => {
    const secret = secretOf(1000);
    const orphan = await insert(secret, (id) => cipherOf(K0).encrypt(id, secret));
    const orphanStored = (await stored()).get(orphan);

    const run = await cli(K2, 'secrets', 'reencrypt', '--json');

    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      rows: 255,
      current: 254,
      unreadable: [{ subscriptionId: orphan, keyId: 'k0', reason: 'unknown-key', message: expect.any(String) }],
    });
    expect(run.stderr).toContain(`sealed with key id k0, which WEBHOOK_SECRET_KEYS does not list (it lists k2)`);
    expect(run.stderr).toMatch(
      /asana-stream: 1 webhook secrets could not be read and were left as they are \(key ids k0\): list every key/,
    );
    expectNothingSecretIn(run.stdout + run.stderr);
    expect((await stored()).get(orphan)).toBe(orphanStored);

    // With k0 listed after the current key, it is moved too.
    const fixed = await cli(`${K2},${K0}`, 'secrets', 'reencrypt', '--json');
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ rows: 255, current: 254, reencrypted: { k0: 1 }, unreadable: [] });
    expect(cipherOf(K2).decrypt(orphan, (await stored()).get(orphan)!)).toBe(secret);
  });

  it('reencrypt and webhooks create refuse to run without WEBHOOK_SECRET_KEYS, saying so', async () => {
    for (const args of [
      ['secrets', 'reencrypt'],
      ['webhooks', 'create', '--resource', '1100'],
    ]) {
      const run = await runCli({ DATABASE_URL: db.url, WEBHOOK_SECRET_KEYS: '', ASANA_TOKEN: 't' }, args);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/needs WEBHOOK_SECRET_KEYS, the keys webhook secrets are encrypted with/);
    }
  });
});
