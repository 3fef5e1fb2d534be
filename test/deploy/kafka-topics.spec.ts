import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaEnv, loadConfig } from '@asana-stream/config';
import { allTopics, PRODUCTION_REPLICATION } from '@asana-stream/contracts';
import { KAFKA_CLUSTER, KAFKA_TOPICS_FILE, kafkaTopicResource, renderKafkaTopics } from '../../scripts/kafka-topics';
import { REPO_ROOT, buildKustomization, containerEnv, find, parseYamlStream, type Workload } from './manifests';
import { isKafkaTopic, type KafkaCluster, type KafkaNodePool, type KafkaTopic } from './strimzi-models';

/*
 * The Strimzi KafkaTopics are generated from libs/contracts/src/topology.ts by
 * scripts/kafka-topics.ts (`npm run k8s:topics`); the committed file must be what it writes now, and
 * the prod Kafka cluster must be able to hold them.
 */

const committed = () => readFileSync(join(REPO_ROOT, KAFKA_TOPICS_FILE), 'utf8');

describe(KAFKA_TOPICS_FILE, () => {
  it('is what `npm run k8s:topics` writes from the topology today (run it after changing the topology)', () => {
    expect(committed()).toBe(renderKafkaTopics());
  });

  it('declares every topic of the topology once, with its partitions, retention, cleanup policy and min ISR', () => {
    const topics = parseYamlStream(committed(), KAFKA_TOPICS_FILE) as KafkaTopic[];
    expect(topics.every(isKafkaTopic)).toBe(true);
    expect(topics.map((t) => t.spec.topicName)).toEqual(allTopics().map((t) => t.name));
    for (const spec of allTopics()) {
      const topic = topics.find((t) => t.spec.topicName === spec.name)!;
      expect({ name: spec.name, partitions: topic.spec.partitions }).toEqual({
        name: spec.name,
        partitions: spec.partitions,
      });
      expect({ name: spec.name, config: topic.spec.config }).toEqual({
        name: spec.name,
        config: { ...spec.configs, 'min.insync.replicas': String(PRODUCTION_REPLICATION.minInsyncReplicas) },
      });
      expect(topic.spec.config['cleanup.policy']).toMatch(/^(delete|compact)$/);
      expect(topic.spec.replicas).toBe(PRODUCTION_REPLICATION.replicas);
      expect(topic.metadata.labels['strimzi.io/cluster']).toBe(KAFKA_CLUSTER);
    }
  });

  it('keeps a write possible with one replica down (min.insync.replicas below replicas)', () => {
    expect(PRODUCTION_REPLICATION.minInsyncReplicas).toBeGreaterThan(1);
    expect(PRODUCTION_REPLICATION.minInsyncReplicas).toBeLessThan(PRODUCTION_REPLICATION.replicas);
  });

  it('follows a change of the topology (the generator reads it, it does not copy it)', () => {
    const changed = kafkaTopicResource({ name: 'asana.example', partitions: 12, configs: { 'retention.ms': '1' } });
    expect(changed.spec).toEqual({
      topicName: 'asana.example',
      partitions: 12,
      replicas: PRODUCTION_REPLICATION.replicas,
      config: { 'retention.ms': '1', 'min.insync.replicas': String(PRODUCTION_REPLICATION.minInsyncReplicas) },
    });
  });
});

describe.each(['dev', 'prod'])('k8s/overlays/%s/kafka', (overlay) => {
  it('puts the topics in the Kafka cluster’s namespace, the one the apps’ KAFKA_BROKERS names', () => {
    const kafka = buildKustomization(join(REPO_ROOT, 'k8s', 'overlays', overlay, 'kafka'));
    const apps = buildKustomization(join(REPO_ROOT, 'k8s', 'overlays', overlay));
    const ingest = find<Workload>(apps, 'Deployment', 'ingest')!.spec.template.spec.containers[0];
    const env = Object.fromEntries([...containerEnv(ingest, apps).env].map(([k, v]) => [k, v.value]));
    const brokers = loadConfig({ kafka: KafkaEnv }, env).kafka.KAFKA_BROKERS.split(',');
    const topics = kafka.filter((o) => o.kind === 'KafkaTopic');
    expect(topics).toHaveLength(allTopics().length);
    for (const topic of topics) {
      expect(brokers).toContain(`${KAFKA_CLUSTER}-kafka-bootstrap.${topic.metadata.namespace}.svc:9092`);
    }
  });
});

describe('k8s/overlays/prod/kafka, the example cluster', () => {
  const objects = () => buildKustomization(join(REPO_ROOT, 'k8s', 'overlays', 'prod', 'kafka'));

  it('runs KRaft on node pools: three controllers and brokers enough for every topic’s replicas', () => {
    const pools = objects().filter((o) => o.kind === 'KafkaNodePool') as unknown as KafkaNodePool[];
    const count = (role: 'controller' | 'broker') =>
      pools.filter((p) => p.spec.roles.includes(role)).reduce((n, p) => n + p.spec.replicas, 0);
    expect(count('controller')).toBe(3);
    expect(count('broker')).toBeGreaterThanOrEqual(PRODUCTION_REPLICATION.replicas);
    for (const pool of pools) expect(pool.metadata.labels['strimzi.io/cluster']).toBe(KAFKA_CLUSTER);
  });

  it('listens in plain on 9092 for the apps, creates no topic on use, and runs the Topic Operator', () => {
    const cluster = find(objects(), 'Kafka', KAFKA_CLUSTER) as unknown as KafkaCluster;
    expect(cluster.spec.kafka.listeners).toEqual(
      expect.arrayContaining([{ name: 'plain', port: 9092, type: 'internal', tls: false }]),
    );
    const config = cluster.spec.kafka.config ?? {};
    expect(config['auto.create.topics.enable']).toBe(false);
    expect(config['min.insync.replicas']).toBe(PRODUCTION_REPLICATION.minInsyncReplicas);
    expect(config['default.replication.factor']).toBe(PRODUCTION_REPLICATION.replicas);
    expect(cluster.spec.entityOperator?.topicOperator).toEqual({});
  });
});
