import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { asanaEventId, AsanaClient, type AsanaEvent } from '@asana-stream/asana';
import { rankVersion, TopicNames, type ResourceStateMessage } from '@asana-stream/contracts';
import type { KafkaPublisher } from '@asana-stream/kafka';
import { startSimulatorProcess, waitFor, type SimulatorProcess } from '@asana-stream/testing';
import { EnrichEventService } from './enrich-event.service';
import { PacedResourceFetcher } from './paced-resource-fetcher';

/**
 * What the projector's row ends as: its guard (`decideProjection`) applies a state only when
 * `rankVersion`, the contract's ordering rule, ranks it newer.
 */
function guard(stored: Row | undefined, incoming: ResourceStateMessage): Row {
  if (rankVersion(stored?.version, incoming.version) !== 'newer') return stored!;
  return { version: incoming.version, deleted: incoming.deleted };
}
interface Row {
  version: number;
  deleted: boolean;
}

const TASKS = 12;
// At least 1,000 delete/undelete pairs in all (12 tasks × 84 rounds, a pair or more each).
const ROUNDS = 84;

// Churn: tasks of the simulator are deleted and undeleted (as a user and Asana's trash would)
// while the real enricher, fed by the simulator's own webhook deliveries, fetches them. After each
// round, once every event is enriched, the rows the guard kept must say what the simulator says.
describe('tombstones racing undeletes (enricher against the simulator)', () => {
  let sim: SimulatorProcess;
  let receiver: Server;
  const queues = new Map<string, Promise<unknown>>();
  const rows = new Map<string, Row>();
  let received = 0;
  let enrich: EnrichEventService;

  beforeAll(async () => {
    sim = await startSimulatorProcess({
      SIM_DELIVERY_DELAY_MS: '0',
      SIM_SEED_TASKS_PER_PROJECT: String(TASKS),
      SIM_RATE_LIMIT_REQUESTS: '0',
      SIM_MAX_CONCURRENT_WRITES: '100',
      SIM_MAX_CONCURRENT_READS: '100',
    });
    const publish = (batches: Parameters<KafkaPublisher['publish']>[0]) => {
      for (const { messages } of batches) {
        for (const { value } of messages) {
          const message = JSON.parse(String(value)) as ResourceStateMessage;
          rows.set(message.gid, guard(rows.get(message.gid), message));
        }
      }
      return Promise.resolve();
    };
    const fetcher = new PacedResourceFetcher(new AsanaClient({ baseUrl: sim.apiUrl, token: sim.token }), 1_000_000);
    enrich = new EnrichEventService(fetcher, { publish } as unknown as KafkaPublisher, new TopicNames('t.'));
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);

    // The webhook target: each task's events are enriched one after another, in delivery order,
    // as the enricher's consumer runs one gid's messages.
    receiver = createServer((req, res) => {
      const secret = req.headers['x-hook-secret'];
      if (typeof secret === 'string') {
        res.writeHead(200, { 'X-Hook-Secret': secret }).end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        res.writeHead(200).end();
        const { events } = JSON.parse(Buffer.concat(chunks).toString()) as { events: AsanaEvent[] };
        for (const event of events) {
          if (event.resource.resource_type !== 'task') continue;
          received += 1;
          const gid = event.resource.gid;
          const envelope = {
            eventId: asanaEventId(event),
            source: 'webhook' as const,
            subscriptionId: null,
            deliveryId: null,
            receivedAt: new Date().toISOString(),
            event,
          };
          queues.set(
            gid,
            (queues.get(gid) ?? Promise.resolve()).then(() => enrich.enrich(envelope)),
          );
        }
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const state = (await (await fetch(`${sim.baseUrl}/_sim/state`)).json()) as {
      data: { projects: { gid: string }[] };
    };
    const created = await fetch(`${sim.apiUrl}/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ data: { resource: state.data.projects[0].gid, target } }),
    });
    expect(created.status).toBe(201);
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await sim?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  async function simulatorDeleted(gids: string[]): Promise<Record<string, boolean>> {
    const response = await fetch(`${sim.baseUrl}/_sim/state`);
    const { data } = (await response.json()) as { data: { tasks: { gid: string; deleted: boolean }[] } };
    return Object.fromEntries(data.tasks.filter((t) => gids.includes(t.gid)).map((t) => [t.gid, t.deleted]));
  }

  it('ends every round with each task deleted or live exactly as the simulator has it', async () => {
    const gids = await sim.firstProjectTaskGids();
    expect(gids).toHaveLength(TASKS);
    const deleted = new Map(gids.map((gid) => [gid, false]));
    const toggle = async (gid: string) => {
      const wasDeleted = deleted.get(gid);
      const response = wasDeleted
        ? await fetch(`${sim.baseUrl}/_sim/tasks/${gid}/undelete`, { method: 'POST' })
        : await fetch(`${sim.apiUrl}/tasks/${gid}`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${sim.token}` },
          });
      expect(response.status).toBe(200);
      deleted.set(gid, !wasDeleted);
    };
    const mismatches: { round: number; gid: string; asana: boolean; projected: boolean | undefined }[] = [];
    let mutations = 0;
    let pairs = 0;

    for (let round = 0; round < ROUNDS; round += 1) {
      // Each task: a delete/undelete pair, sometimes a second one, and every other round it ends
      // deleted; a few ms apart at random, so fetches land between them.
      await Promise.all(
        gids.map(async (gid, i) => {
          const ops = (round % 2 === 0 ? 2 : 1) + (deleted.get(gid) ? 1 : 0) + ((round + i) % 3 === 0 ? 2 : 0);
          for (let op = 0; op < ops; op += 1) {
            await toggle(gid);
            mutations += 1;
            if (!deleted.get(gid)) pairs += 1;
            await sleep(Math.floor(Math.random() * 4));
          }
        }),
      );
      await waitFor(`the ${mutations} events delivered`, () => received >= mutations, { intervalMs: 5 });
      await Promise.all(queues.values());

      const asana = await simulatorDeleted(gids);
      for (const gid of gids) {
        expect(asana[gid]).toBe(deleted.get(gid));
        if (rows.get(gid)?.deleted !== asana[gid]) {
          mismatches.push({ round, gid, asana: asana[gid], projected: rows.get(gid)?.deleted });
        }
      }
    }

    expect(received).toBe(mutations);
    expect(pairs).toBeGreaterThanOrEqual(1000);
    expect(mismatches).toEqual([]);
  });
});
