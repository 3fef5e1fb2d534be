import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ASANA_HOOK_SECRET_HEADER } from '@asana-stream/asana';

/**
 * A subscription the way a real one comes about: the row is inserted pending (as
 * `asana-stream webhooks create` does), Asana's handshake reaches ingest at `ingestOrigin` with
 * `X-Hook-Secret`, ingest stores the secret (encrypted), and the row is marked active. Returns its id and secret.
 */
export async function subscribeThroughHandshake(
  databaseUrl: string,
  ingestOrigin: string,
  resourceGid = '1100',
): Promise<{ id: string; secret: string }> {
  const id = randomUUID();
  const secret = randomBytes(16).toString('hex');
  const sql = new Client({ connectionString: databaseUrl });
  await sql.connect();
  try {
    await sql.query(
      /* sql */ `INSERT INTO subscriptions (id, resource_gid, target_url, status) VALUES ($1, $2, $3, 'pending_handshake')`,
      [id, resourceGid, `${ingestOrigin}/webhooks/asana/${id}`],
    );
    const handshake = await fetch(`${ingestOrigin}/webhooks/asana/${id}`, {
      method: 'POST',
      headers: { [ASANA_HOOK_SECRET_HEADER]: secret },
    });
    if (handshake.status !== 200 || handshake.headers.get(ASANA_HOOK_SECRET_HEADER) !== secret) {
      throw new Error(`ingest refused the handshake: ${handshake.status} ${await handshake.text()}`);
    }
    const activated = await sql.query(
      /* sql */ `UPDATE subscriptions SET status = 'active', webhook_gid = $2 WHERE id = $1 AND secret IS NOT NULL`,
      [id, String(Date.now())],
    );
    if (activated.rowCount !== 1) throw new Error('ingest did not store the handshake secret');
  } finally {
    await sql.end();
  }
  return { id, secret };
}
