import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { changeTopic, type ResourceChangeMessage, type TopicNames } from '@asana-stream/contracts';
import { createTestTopics, TEST_BROKERS, testKafka, waitFor } from '@asana-stream/testing';

const EXAMPLE = resolve(__dirname, '../../examples/consume-changes.ts');

function change(changeId: string, gid: string, version: number): ResourceChangeMessage {
  return {
    schema: 1,
    changeId,
    gid,
    type: 'task',
    action: version === 1 ? 'created' : 'updated',
    version,
    changes: { name: { from: version === 1 ? null : `v${version - 1}`, to: `v${version}` } },
    state: { gid, resource_type: 'task', name: `v${version}` },
    causes: [`event-${changeId}`],
    occurredAt: new Date().toISOString(),
  };
}

describe('examples/consume-changes.ts (docs/consuming.md), run as a team would run it', () => {
  let names: TopicNames;

  beforeAll(async () => {
    names = await createTestTopics();
  });

  it('applies each change once, per gid in order, skips a re-published one, and stops on SIGTERM', async () => {
    const topic = names.physical(changeTopic('task').name);
    const producer = testKafka().producer();
    await producer.connect();
    const sent = [change('11', '501', 1), change('12', '502', 1), change('13', '501', 2), change('14', '501', 3)];
    try {
      // A relay that re-published 13 after a crash: the topic holds it twice.
      for (const message of [...sent.slice(0, 3), sent[2], sent[3]]) {
        await producer.send({ topic, messages: [{ key: message.gid, value: JSON.stringify(message) }] });
      }
    } finally {
      await producer.disconnect();
    }

    const child = spawn(process.execPath, [EXAMPLE], {
      env: {
        PATH: process.env.PATH ?? '',
        KAFKA_BROKERS: TEST_BROKERS,
        KAFKA_TOPIC_PREFIX: names.prefix,
        GROUP_ID: `example-${names.prefix}`,
        FROM_BEGINNING: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (line) =>
      lines.push(JSON.parse(line) as Record<string, unknown>),
    );
    try {
      await waitFor(
        'the example to apply and skip every message',
        () => lines.filter((l) => l.applied || l.skipped).length >= 5 || undefined,
        {
          timeoutMs: 45_000,
        },
      );
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code).toBe(0);
    expect(lines.filter((l) => l.applied).map((l) => l.applied)).toEqual(
      expect.arrayContaining(['11', '12', '13', '14']),
    );
    expect(lines.filter((l) => l.applied)).toHaveLength(4);
    expect(lines.filter((l) => l.gid === '501' && l.applied).map((l) => l.applied)).toEqual(['11', '13', '14']);
    expect(lines.filter((l) => l.skipped)).toEqual([{ skipped: '13', gid: '501', reason: 'already applied' }]);
    expect(stderr.replace(/.*MODULE_TYPELESS.*\n?/g, '')).not.toContain('consumer failed');
  });
});
