import type { TopicNames } from '@asana-stream/contracts';
import { createTestDatabase, createTestTopics, OtlpReceiver, waitFor, type TestDatabase } from '@asana-stream/testing';
import {
  comparableRows,
  createWebhook,
  expectedRows,
  projectedTasks,
  runCli,
  SimulatedAsana,
  simulatedProjectGids,
  simulatedTasks,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from './pipeline-harness';

jest.setTimeout(600_000);

interface ListedSubscription {
  id: string;
  webhookGid: string | null;
  resourceGid: string;
  status: string;
  deletedReason: string | null;
  replacedBy: string | null;
}

/**
 * `webhooks rotate` under traffic, with reconciliation off (EVENTS_FOLLOW=false) so that nothing
 * but the webhooks brings changes: the new webhook delivers before the old one is deleted, so no
 * change is lost, and duplicates collapse. Then `list` shows no drift from Asana, and `delete`
 * removes a webhook in Asana too.
 */
describe('webhooks rotate, list, show and delete', () => {
  let db: TestDatabase;
  let names: TopicNames;
  let receiver: OtlpReceiver;
  let pipeline: Pipeline | undefined;

  beforeAll(async () => {
    [db, names, receiver] = await Promise.all([createTestDatabase(), createTestTopics(), new OtlpReceiver().start()]);
    pipeline = await startPipeline(db, names, receiver, { SIM_RANDOM_SEED: '11' }, { EVENTS_FOLLOW: 'false' });
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await receiver?.stop();
    await db?.drop();
  });

  const cli = (...args: string[]) => runCli(pipeline!.cliEnv, ...args);
  const listed = async (...flags: string[]) =>
    JSON.parse(await cli('webhooks', 'list', '--json', ...flags)) as {
      subscriptions: ListedSubscription[];
      drift?: { problem: string }[];
    };

  it('rotates every webhook while changes flow, losing none, and leaves no drift', async () => {
    const p = pipeline!;
    const projects = await simulatedProjectGids(p);
    const originals = [];
    for (const project of projects) originals.push((await createWebhook(p, project)).subscription.id);

    const started = await fetch(`${p.simulator.url}/_sim/traffic`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ changes: 150, ratePerSecond: 50 }),
    });
    const { data: run } = (await started.json()) as { data: { id: string } };
    // Mid-traffic: each webhook replaced by a new one.
    await new Promise((done) => setTimeout(done, 800));
    for (const id of originals) await cli('webhooks', 'rotate', id, '--overlap', '10', '--json');
    await waitFor('the traffic run to finish', async () => {
      const response = await fetch(`${p.simulator.url}/_sim/traffic/${run.id}`);
      return ((await response.json()) as { data: { status: string } }).data.status === 'finished';
    });

    const sim = await simulatedTasks(p);
    const visible = <R extends { gid: string; deleted: boolean }>(rows: R[]) =>
      rows.map((row) => (row.deleted ? { gid: row.gid, deleted: true } : row));
    const want = JSON.stringify(visible(expectedRows(sim)));
    await waitFor(
      'Postgres to equal the simulator',
      async () => JSON.stringify(visible(comparableRows(await projectedTasks(db)))) === want,
      { timeoutMs: 90_000, intervalMs: 500 },
    );

    const all = (await listed('--all')).subscriptions;
    const active = all.filter((s) => s.status === 'active');
    expect(active.map((s) => s.resourceGid).sort()).toEqual([...projects].sort());
    for (const id of originals) {
      const old = all.find((s) => s.id === id)!;
      expect(old).toMatchObject({ status: 'deleted', deletedReason: 'rotated' });
      expect(active.map((s) => s.id)).toContain(old.replacedBy);
      // Asana no longer has the old webhook.
      const shown = JSON.parse(await cli('webhooks', 'show', id)) as { asana: unknown };
      expect(shown.asana).toBe('not in Asana');
    }
    // Deleted ones are left out unless asked for; nothing printed carries a secret.
    expect((await listed()).subscriptions.map((s) => s.id).sort()).toEqual(active.map((s) => s.id).sort());
    expect(JSON.stringify(all)).not.toMatch(/secret/i);

    const asana = new SimulatedAsana(`${p.simulator.url}/api/1.0`);
    const [workspace] = await asana.call<{ gid: string }[]>('GET', '/workspaces');
    expect((await listed('--workspace', workspace.gid)).drift).toEqual([]);

    // delete: gone in Asana and here; Asana's list and ours agree again.
    const [first] = active;
    expect(await cli('webhooks', 'delete', first.id)).toContain(`subscription ${first.id} deleted`);
    const after = await listed('--workspace', workspace.gid);
    expect(after.subscriptions.map((s) => s.id)).not.toContain(first.id);
    expect(after.drift).toEqual([]);
    const response = await fetch(`${p.simulator.url}/api/1.0/webhooks/${first.webhookGid}`, {
      headers: { authorization: `Bearer ${p.cliEnv.ASANA_TOKEN}` },
    });
    expect(response.status).toBe(404);
  });
});
