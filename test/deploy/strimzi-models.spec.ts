import { validateObjects } from './manifests';
import { validateStrimzi } from './strimzi-models';

/*
 * The schema checks must refuse what a cluster would: a misspelt field of a Strimzi resource (the
 * typed models), a KEDA or prometheus-operator field of the wrong type (their CRDs' schemas).
 */

const topic = {
  apiVersion: 'kafka.strimzi.io/v1',
  kind: 'KafkaTopic',
  metadata: { name: 'asana.events', labels: { 'strimzi.io/cluster': 'asana-stream' } },
  spec: { topicName: 'asana.events', partitions: 6, replicas: 3, config: { 'cleanup.policy': 'delete' } },
};

describe('validateStrimzi', () => {
  it('accepts a KafkaTopic as the generator writes it', () => {
    expect(validateStrimzi(topic)).toEqual([]);
  });

  it('refuses a misspelt field, a missing cluster label and a config value that is not a string', () => {
    const problems = validateStrimzi({
      ...topic,
      metadata: { name: 'asana.events', labels: {} },
      spec: { topicName: 'asana.events', partition: 6, replicas: 3, config: { 'retention.ms': 1 } },
    } as never);
    expect(problems.join('\n')).toMatch(/must have required property 'partitions'/);
    expect(problems.join('\n')).toMatch(/must NOT have additional properties/);
    expect(problems.join('\n')).toMatch(/strimzi\.io\/cluster/);
    expect(problems.join('\n')).toMatch(/config\/retention\.ms must be string/);
  });

  it('refuses a node pool with a role Strimzi does not know, and a kind it has no model for', () => {
    const pool = {
      apiVersion: 'kafka.strimzi.io/v1',
      kind: 'KafkaNodePool',
      metadata: { name: 'p', labels: { 'strimzi.io/cluster': 'asana-stream' } },
      spec: {
        replicas: 3,
        roles: ['zookeeper'],
        storage: { type: 'jbod', volumes: [{ id: 0, type: 'persistent-claim', size: '1Gi' }] },
      },
    };
    expect(validateStrimzi(pool).join('\n')).toMatch(/roles\/0 must be equal to one of the allowed values/);
    expect(validateStrimzi({ kind: 'KafkaUser', metadata: { name: 'u' } })).toEqual([
      'KafkaUser u: no Strimzi model for kind KafkaUser',
    ]);
  });
});

describe('validateObjects', () => {
  it('checks KEDA and prometheus-operator resources against their CRDs’ schemas', () => {
    const scaled = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'enricher' },
      spec: { scaleTargetRef: { name: 'enricher' }, maxReplicaCount: '6', triggers: [{ type: 'kafka', metadata: {} }] },
    };
    const monitor = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'ingest' },
      spec: { selector: {}, endpoints: [{ port: 3000 }] },
    };
    const problems = validateObjects([scaled, monitor]);
    expect(problems).toEqual([
      expect.stringMatching(/^ScaledObject enricher: .*maxReplicaCount must be integer/),
      expect.stringMatching(/^ServiceMonitor ingest: .*port must be string/),
    ]);
  });

  it('reports a kind no package models', () => {
    const problems = validateObjects([{ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }]);
    expect(problems).toEqual(['Widget w: kubernetes-models has no API version example.com/v1']);
  });
});
