import type { Command } from 'commander';
import type { DataSource } from 'typeorm';
import {
  generateWebhookSecretKey,
  storedSecretForm,
  WebhookSecretCipher,
  WebhookSecretError,
  type CliConfig,
  type WebhookSecretFailure,
} from '@asana-stream/config';
import { withConnections, type CliContext } from '../cli-context';
import { CliFailure, DEMO_ENV_HINT } from '../cli-failure';

/**
 * The cipher of WEBHOOK_SECRET_KEYS, for a command that reads or writes webhook secrets; the cli
 * reads the variable only for those, so it says here when it is missing.
 */
export function webhookSecretCipher(config: CliConfig, command: string): WebhookSecretCipher {
  const keys = config.secrets.WEBHOOK_SECRET_KEYS;
  if (keys === undefined) {
    throw new CliFailure(
      `${command} needs WEBHOOK_SECRET_KEYS, the keys webhook secrets are encrypted with: set it to the value ingest and the enricher run with (${DEMO_ENV_HINT})`,
    );
  }
  return WebhookSecretCipher.fromKeyRing(keys);
}

/** A secret `secrets reencrypt` could not read, and why (never the secret). */
export interface UnreadableSecret {
  subscriptionId: string;
  keyId?: string;
  reason: WebhookSecretFailure;
  message: string;
}

/** What `secrets reencrypt` did (or, with `--dry-run`, would do). */
export interface ReencryptSummary {
  currentKeyId: string;
  dryRun: boolean;
  /** Subscriptions holding a secret, deleted ones included (their secrets are still secrets). */
  rows: number;
  /** Already under the current key: left alone. */
  current: number;
  /** Stored before encryption: now encrypted with the current key. */
  encrypted: number;
  /** Under an older key (by its id): now under the current key. */
  reencrypted: Record<string, number>;
  /** Changed by someone else between this command's read and its write: left for the next run. */
  changedMeanwhile: number;
  unreadable: UnreadableSecret[];
}

const BATCH = 200;

/**
 * Moves every stored webhook secret to the current key: a plaintext one (stored before
 * encryption) is encrypted, one under an older key is opened and sealed again. A row is written
 * only if it still holds what was read, so a concurrent handshake or run loses nothing. Batches
 * of BATCH rows in id order; `progress` after each.
 */
export async function reencryptSecrets(
  dataSource: DataSource,
  cipher: WebhookSecretCipher,
  { dryRun, progress }: { dryRun: boolean; progress: (done: number, summary: ReencryptSummary) => void },
): Promise<ReencryptSummary> {
  const [{ rows }] = await dataSource.query<{ rows: number }[]>(
    /* sql */ `SELECT count(*)::int AS rows FROM subscriptions WHERE secret IS NOT NULL`,
  );
  const summary: ReencryptSummary = {
    currentKeyId: cipher.currentKeyId,
    dryRun,
    rows,
    current: 0,
    encrypted: 0,
    reencrypted: {},
    changedMeanwhile: 0,
    unreadable: [],
  };
  let after = '00000000-0000-0000-0000-000000000000';
  let done = 0;
  for (;;) {
    const batch = await dataSource.query<{ id: string; secret: string }[]>(
      /* sql */ `SELECT id, secret FROM subscriptions WHERE secret IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`,
      [after, BATCH],
    );
    if (batch.length === 0) break;
    for (const { id, secret } of batch) {
      const form = storedSecretForm(secret);
      if (!cipher.isStale(secret)) {
        summary.current += 1;
        continue;
      }
      let sealed: string;
      try {
        sealed = cipher.encrypt(id, cipher.decrypt(id, secret));
      } catch (error) {
        if (!(error instanceof WebhookSecretError)) throw error;
        summary.unreadable.push({
          subscriptionId: id,
          keyId: error.keyId,
          reason: error.reason,
          message: error.message,
        });
        continue;
      }
      if (!dryRun) {
        const [, affected] = await dataSource.query<[unknown, number]>(
          /* sql */ `UPDATE subscriptions SET secret = $1 WHERE id = $2 AND secret = $3`,
          [sealed, id, secret],
        );
        if (affected !== 1) {
          summary.changedMeanwhile += 1;
          continue;
        }
      }
      if (form.kind === 'plaintext') summary.encrypted += 1;
      else summary.reencrypted[form.keyId] = (summary.reencrypted[form.keyId] ?? 0) + 1;
    }
    done += batch.length;
    after = batch[batch.length - 1].id;
    progress(done, summary);
  }
  return summary;
}

function describeSummary(summary: ReencryptSummary): string {
  const older = Object.entries(summary.reencrypted);
  const olderCount = older.reduce((sum, [, count]) => sum + count, 0);
  const byKey = older.length > 0 ? ` (${older.map(([keyId, count]) => `${keyId}: ${count}`).join(', ')})` : '';
  return [
    `${summary.rows} webhook secrets: ${summary.current} already under ${summary.currentKeyId}`,
    `${summary.encrypted} plaintext ${summary.dryRun ? 'to encrypt' : 'encrypted'}`,
    `${olderCount} under older keys ${summary.dryRun ? 'to re-encrypt' : 're-encrypted'}${byKey}`,
    `${summary.unreadable.length} unreadable`,
    ...(summary.changedMeanwhile > 0 ? [`${summary.changedMeanwhile} changed meanwhile (run again)`] : []),
  ].join(', ');
}

/** `asana-stream secrets …`: webhook secrets at rest (keys, re-encryption). */
export function registerSecretsCommands(program: Command, context: () => CliContext): void {
  const secrets = program
    .command('secrets')
    .description('webhook secrets at rest: generate a WEBHOOK_SECRET_KEYS entry, re-encrypt stored secrets');
  secrets
    .command('generate-key')
    .description(
      'print a new key entry (<id>:<base64 of 32 random bytes>) for WEBHOOK_SECRET_KEYS; put it first to make it the current key',
    )
    .option('--id <key-id>', 'the key id, written into every secret it encrypts (default: k<YYYYMMDD>)')
    .action((options: { id?: string }) => {
      // No configuration needed: this must work while WEBHOOK_SECRET_KEYS is missing or broken.
      const id = options.id ?? `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`;
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
        throw new CliFailure(`--id takes 1 to 32 letters, digits, "_" or "-", got "${id}"`);
      }
      process.stdout.write(`${generateWebhookSecretKey(id)}\n`);
      process.stderr.write(
        'put it first in WEBHOOK_SECRET_KEYS (keep the old entries after it) for ingest, the enricher and the cli, ' +
          'restart them, then run `asana-stream secrets reencrypt` (docs/runbooks.md, "Rotating the webhook secret key")\n',
      );
    });
  secrets
    .command('reencrypt')
    .description(
      "encrypt every webhook secret stored in plaintext and re-encrypt those under an older key with WEBHOOK_SECRET_KEYS' first (current) key; exits 1 if a secret cannot be read",
    )
    .option(
      '--dry-run',
      'only count what would change (every stale secret is still decrypted, to prove the keys open it)',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (options: { dryRun?: boolean; json?: boolean }) => {
      const { config, say, print } = context();
      const cipher = webhookSecretCipher(config, 'secrets reencrypt');
      const summary = await withConnections(config, { database: true }, ({ dataSource }) =>
        reencryptSecrets(dataSource, cipher, {
          dryRun: options.dryRun ?? false,
          progress: (done, partial) => say(`${done} of ${partial.rows} rows looked at: ${describeSummary(partial)}`),
        }),
      );
      print(options.json ? JSON.stringify(summary) : describeSummary(summary));
      if (summary.unreadable.length > 0) {
        for (const { message } of summary.unreadable) say(message);
        const keyIds = [...new Set(summary.unreadable.flatMap(({ keyId }) => (keyId ? [keyId] : [])))];
        throw new CliFailure(
          `${summary.unreadable.length} webhook secrets could not be read and were left as they are` +
            (keyIds.length > 0 ? ` (key ids ${keyIds.join(', ')})` : '') +
            ': list every key they were encrypted with in WEBHOOK_SECRET_KEYS and run again, or rotate those webhooks (`asana-stream webhooks rotate <id>`)',
        );
      }
    });
}
