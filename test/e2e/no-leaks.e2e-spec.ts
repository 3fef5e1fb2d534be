import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopicNames } from '@asana-stream/contracts';
import {
  createTestDatabase,
  createTestTopics,
  findLeaks,
  OtlpReceiver,
  stoppedCleanly,
  waitFor,
  type ScannedText,
  type TestDatabase,
} from '@asana-stream/testing';
import {
  createWebhook,
  pipelineStatus,
  queryDatabase,
  runCli,
  SimulatedAsana,
  startPipeline,
  stopPipeline,
  type Pipeline,
} from './pipeline-harness';

jest.setTimeout(600_000);

/*
 * Every app logs and traces while it works on Asana's content with Asana's token and a webhook's
 * secret. None of the three may reach a log line or a span: logs and traces are kept by other
 * systems, for longer, and read by more people. Unique markers are planted in the token, in task
 * names, notes and comments, and the secret is the simulator's own; the pipeline runs as real
 * processes over an error path too (a resource Asana refuses, dead-lettered), and then every byte
 * the apps wrote and exported is searched for them. `leak-scan.spec.ts` shows the search finds a
 * planted marker in each place it could hide.
 */
describe('no secret, token or Asana content in any log line or span', () => {
  const run = randomBytes(4).toString('hex');
  const TOKEN = `tok-TOKENMARK-${run}`;
  const CONTENT = `CONTENTMARK-${run}`;
  const PASSWORD = `pw-PASSWORDMARK-${run}`;
  let db: TestDatabase;
  let names: TopicNames;
  let receiver: OtlpReceiver;
  let pipeline: Pipeline | undefined;
  let asana: SimulatedAsana;
  let secret: string;
  /** What the cli printed, scanned too (lookup's own output excepted: showing content is its job). */
  const cliOutputs: ScannedText[] = [];
  const taskGids: string[] = [];
  let refusedGid: string;

  beforeAll(async () => {
    [db, names, receiver] = await Promise.all([createTestDatabase(), createTestTopics(), new OtlpReceiver().start()]);
    // Postgres trusts local connections, so a password is accepted and ignored: a marker like the rest.
    const url = new URL(db.url);
    url.password = PASSWORD;
    pipeline = await startPipeline(
      { ...db, url: url.toString() },
      names,
      receiver,
      { SIM_TOKEN: TOKEN },
      { ASANA_TOKEN: TOKEN },
    );
    pipeline.cliEnv.ASANA_TOKEN = TOKEN;
    asana = new SimulatedAsana(`${pipeline.simulator.url}/api/1.0`, TOKEN);
    const [workspace] = await asana.call<{ gid: string }[]>('GET', '/workspaces');
    const [project] = await asana.call<{ gid: string }[]>('GET', `/projects?workspace=${workspace.gid}`);
    const { subscription, output } = await createWebhook(pipeline, project.gid);
    expect(subscription.status).toBe('active');
    cliOutputs.push({ source: 'cli webhooks create', text: output });
    const state = (await (await fetch(`${pipeline.simulator.url}/_sim/state`)).json()) as {
      data: { webhooks: { gid: string }[] };
    };
    const secretAnswer = (await (
      await fetch(`${pipeline.simulator.url}/_sim/webhooks/${state.data.webhooks[0].gid}/secret`)
    ).json()) as { data: { secret: string } };
    secret = secretAnswer.data.secret;
    expect(secret).toMatch(/^[0-9a-f]{64}$/);

    for (let i = 0; i < 3; i++) {
      const task = await asana.call<{ gid: string }>('POST', '/tasks', {
        name: `Task ${i} ${CONTENT}`,
        notes: `Notes with ${CONTENT} and a link https://example.com/?q=${CONTENT}`,
        projects: [project.gid],
      });
      taskGids.push(task.gid);
    }
    for (const [i, gid] of taskGids.entries()) {
      await asana.call('PUT', `/tasks/${gid}`, { name: `Renamed ${i} ${CONTENT}` });
      await asana.call('POST', `/tasks/${gid}/stories`, { text: `A comment quoting ${CONTENT}` });
    }
    await asana.call('DELETE', `/tasks/${taskGids[2]}`);
    const drained = async () => (await pipelineStatus(pipeline!)).outbox.unpublished === 0;
    await waitFor(
      'the changes projected and relayed',
      async () => {
        const [{ renamed, stories }] = await queryDatabase<{ renamed: string; stories: string }>(
          db,
          /* sql */ `SELECT (SELECT count(*) FROM tasks WHERE name LIKE 'Renamed %') AS renamed,
                            (SELECT count(*) FROM resources WHERE type = 'story') AS stories`,
        );
        return Number(renamed) >= 2 && Number(stories) >= 3 && (await drained());
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );

    // An error path: Asana refuses one task for good right after a change to it (its delivery
    // waits SIM_DELIVERY_DELAY_MS first), so the enricher's fetch for that event is refused and
    // the event dead-lettered.
    refusedGid = taskGids[1];
    await asana.call('PUT', `/tasks/${refusedGid}`, { notes: `Refused ${CONTENT}` });
    const refuse = await fetch(`${pipeline.simulator.url}/_sim/api-failures`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 'forever', status: 400, gid: refusedGid }),
    });
    expect(refuse.ok).toBe(true);
    await waitFor(
      'the refused event dead-lettered',
      async () => (await pipelineStatus(pipeline!)).deadLetters['asana.events.dlq'] >= 1,
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    // The lookup's own path (the cli, and fanout's endpoint with its pg and http spans) is covered.
    await runCli(pipeline.cliEnv, 'lookup', refusedGid);
    const response = await fetch(`${pipeline.fanout.url}/lookup/${refusedGid}`);
    expect(response.status).toBe(200);
    expect(JSON.stringify(await response.json())).toContain(CONTENT);
  });

  afterAll(async () => {
    await stopPipeline(pipeline);
    await receiver?.stop();
    await db?.drop();
  });

  it('ran on the marked content: it went through every app into Postgres', async () => {
    const [{ tasks, all }] = await queryDatabase<{ tasks: string; all: string }>(
      db,
      /* sql */ `SELECT (SELECT count(*) FROM tasks WHERE state::text LIKE '%${CONTENT}%') AS tasks,
                      (SELECT count(*) FROM tasks WHERE state::text LIKE '%${CONTENT}%')
                      + (SELECT count(*) FROM resources WHERE state::text LIKE '%${CONTENT}%') AS all`,
    );
    expect(Number(tasks)).toBeGreaterThanOrEqual(2);
    expect(Number(all)).toBeGreaterThanOrEqual(3);
  });

  it('finds none of the markers in any app output or exported span once the apps have stopped', async () => {
    const exits = await stopPipeline(pipeline);
    const logDir = pipeline!.logDir;
    const keyRing = pipeline!.cliEnv.WEBHOOK_SECRET_KEYS;
    pipeline = undefined;
    expect(exits.map(stoppedCleanly)).toEqual([true, true, true, true, true]);

    // The simulator stands in for Asana: it holds the token and the content by design.
    const logs = readdirSync(logDir)
      .filter((file) => file.endsWith('.log') && file !== 'asana-simulator.log')
      .map((file) => ({ source: file, text: readFileSync(join(logDir, file), 'utf8') }));
    expect(logs.map((l) => l.source).sort()).toEqual(['enricher.log', 'fanout.log', 'ingest.log', 'projector.log']);
    const spans: ScannedText[] = receiver.exports.map((text, i) => ({ source: `OTLP export ${i}`, text }));
    const services = new Set(receiver.spans.map((s) => s.service));
    expect([...services].sort()).toEqual(
      ['asana-stream-enricher', 'asana-stream-fanout', 'asana-stream-ingest', 'asana-stream-projector'].sort(),
    );
    // What was searched is the real thing: spans of each kind the pipeline makes, and log lines
    // written inside a span carry that span's trace.
    expect(receiver.spans.some((s) => s.name.startsWith('pg.query'))).toBe(true);
    expect(receiver.spans.some((s) => s.service === 'asana-stream-enricher' && s.kind === 3)).toBe(true);
    const enricherLines = logs
      .find((l) => l.source === 'enricher.log')!
      .text.split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { message: { msg: string }; trace_id?: string });
    const deadLettered = enricherLines.find((line) => line.message.msg === 'message dead-lettered');
    expect(deadLettered?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(receiver.spans.some((s) => s.traceId === deadLettered!.trace_id)).toBe(true);

    const markers: Record<string, string> = {
      token: TOKEN,
      content: CONTENT,
      'webhook secret': secret,
      'database password': PASSWORD,
    };
    // The key ring webhook secrets are encrypted with, where the installation has one.
    if (keyRing) markers['webhook secret keys'] = keyRing;
    expect(findLeaks([...logs, ...spans, ...cliOutputs], markers)).toEqual([]);
  });
});
