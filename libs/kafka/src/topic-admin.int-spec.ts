import { randomBytes } from 'node:crypto';
import { ConfigResourceTypes } from 'kafkajs';
import { allTopics, TOPICS, TopicNames, type TopicSpec } from '@asana-stream/contracts';
import { testKafka } from '@asana-stream/testing';
import { deleteTopics, ensureTopics } from './topic-admin';

describe('ensureTopics and deleteTopics against the real broker', () => {
  const kafka = testKafka('topic-admin-spec');
  const admin = kafka.admin();
  let names: TopicNames;

  beforeAll(async () => {
    await admin.connect();
  });
  beforeEach(() => {
    names = new TopicNames(`admin-${randomBytes(4).toString('hex')}.`);
  });
  afterEach(async () => {
    await deleteTopics(kafka, allTopics(), names);
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  it('creates every topic with its partitions and configs, each partition serving at once', async () => {
    const result = await ensureTopics(kafka, allTopics(), names);

    expect(result.existing).toEqual([]);
    expect(result.created.sort()).toEqual(
      allTopics()
        .map((spec) => names.physical(spec.name))
        .sort(),
    );
    // No retry here: a partition that is not yet serving fails this call (NOT_LEADER_FOR_PARTITION).
    for (const spec of allTopics()) {
      const offsets = await admin.fetchTopicOffsets(names.physical(spec.name));
      expect(offsets).toHaveLength(spec.partitions);
      expect(offsets.every((partition) => partition.high === '0')).toBe(true);
    }
    const state = names.physical(TOPICS.state.name);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: state }],
    });
    const configs = Object.fromEntries(
      described.resources[0].configEntries.map((entry) => [entry.configName, entry.configValue]),
    );
    expect(configs['cleanup.policy']).toBe('compact');
    expect(configs['min.compaction.lag.ms']).toBe(TOPICS.state.configs['min.compaction.lag.ms']);
  });

  it('reports topics that exist instead of creating them again', async () => {
    await ensureTopics(kafka, [TOPICS.events], names);

    const again = await ensureTopics(kafka, [TOPICS.events, TOPICS.deliveries], names);

    expect(again).toEqual({
      created: [names.physical(TOPICS.deliveries.name)],
      existing: [names.physical(TOPICS.events.name)],
    });
  });

  it('refuses a topic with fewer partitions than the topology needs, saying how to fix it', async () => {
    const small: TopicSpec = { ...TOPICS.events, partitions: 2 };
    await ensureTopics(kafka, [small], names);

    await expect(ensureTopics(kafka, [TOPICS.events], names)).rejects.toThrow(
      `topic ${names.physical(TOPICS.events.name)} has 2 partitions, the topology needs 6: raise it with kafka-topics --alter`,
    );
  });

  it('deletes only the topology topics of its own prefix and waits until they are gone', async () => {
    const other = new TopicNames(`admin-${randomBytes(4).toString('hex')}.`);
    await ensureTopics(kafka, [TOPICS.events], names);
    await ensureTopics(kafka, [TOPICS.events], other);
    try {
      const deleted = await deleteTopics(kafka, allTopics(), names);

      expect(deleted).toEqual([names.physical(TOPICS.events.name)]);
      const listed = await admin.listTopics();
      expect(listed).not.toContain(names.physical(TOPICS.events.name));
      expect(listed).toContain(other.physical(TOPICS.events.name));
      expect(await deleteTopics(kafka, allTopics(), names)).toEqual([]);
    } finally {
      await deleteTopics(kafka, allTopics(), other);
    }
  });
});
