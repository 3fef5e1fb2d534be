import Ajv, { type SchemaObject, type ValidateFunction } from 'ajv';

/*
 * Typed models of the Strimzi custom resources the manifests use (API kafka.strimzi.io/v1, Strimzi
 * 1.0), checked with ajv. Strimzi publishes its CRDs' schemas with its operator, not as an npm
 * package, so these cover only the fields the manifests set, following Strimzi's API reference, and
 * refuse any other field: a misspelt or unsupported one fails here instead of in the cluster.
 */

export interface KafkaTopic {
  apiVersion: 'kafka.strimzi.io/v1';
  kind: 'KafkaTopic';
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec: { topicName: string; partitions: number; replicas: number; config: Record<string, string> };
}

export interface KafkaNodePool {
  apiVersion: 'kafka.strimzi.io/v1';
  kind: 'KafkaNodePool';
  metadata: { name: string; namespace?: string; labels: Record<string, string> };
  spec: {
    replicas: number;
    roles: ('controller' | 'broker')[];
    storage: {
      type: 'jbod';
      volumes: {
        id: number;
        type: 'persistent-claim';
        size: string;
        kraftMetadata?: 'shared';
        deleteClaim?: boolean;
        class?: string;
      }[];
    };
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  };
}

export interface KafkaCluster {
  apiVersion: 'kafka.strimzi.io/v1';
  kind: 'Kafka';
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: {
    kafka: {
      version?: string;
      metadataVersion?: string;
      listeners: {
        name: string;
        port: number;
        type: 'internal' | 'route' | 'loadbalancer' | 'nodeport' | 'ingress' | 'cluster-ip';
        tls: boolean;
      }[];
      rack?: { topologyKey: string };
      config?: Record<string, string | number | boolean>;
    };
    entityOperator?: { topicOperator?: Record<string, never>; userOperator?: Record<string, never> };
  };
}

const metadata = (labelsRequired: boolean): SchemaObject => ({
  type: 'object',
  required: labelsRequired ? ['name', 'labels'] : ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253 },
    namespace: { type: 'string', nullable: true },
    labels: {
      type: 'object',
      required: ['strimzi.io/cluster'],
      additionalProperties: { type: 'string' },
      nullable: !labelsRequired,
    },
  },
});

const resources: SchemaObject = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  required: [],
  properties: {
    requests: { type: 'object', nullable: true, required: [], additionalProperties: { type: 'string' } },
    limits: { type: 'object', nullable: true, required: [], additionalProperties: { type: 'string' } },
  },
};

const kafkaTopicSchema: SchemaObject = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { type: 'string', const: 'kafka.strimzi.io/v1' },
    kind: { type: 'string', const: 'KafkaTopic' },
    metadata: metadata(true),
    spec: {
      type: 'object',
      required: ['topicName', 'partitions', 'replicas', 'config'],
      additionalProperties: false,
      properties: {
        topicName: { type: 'string', pattern: '^[a-zA-Z0-9._-]+$', maxLength: 249 },
        partitions: { type: 'integer', minimum: 1 },
        replicas: { type: 'integer', minimum: 1, maximum: 32767 },
        // Kafka topic configs, every value a string as the Topic Operator passes them on.
        config: { type: 'object', required: [], additionalProperties: { type: 'string' } },
      },
    },
  },
};

const kafkaNodePoolSchema: SchemaObject = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { type: 'string', const: 'kafka.strimzi.io/v1' },
    kind: { type: 'string', const: 'KafkaNodePool' },
    metadata: metadata(true),
    spec: {
      type: 'object',
      required: ['replicas', 'roles', 'storage'],
      additionalProperties: false,
      properties: {
        replicas: { type: 'integer', minimum: 0 },
        roles: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { type: 'string', enum: ['controller', 'broker'] },
        },
        storage: {
          type: 'object',
          required: ['type', 'volumes'],
          additionalProperties: false,
          properties: {
            type: { type: 'string', const: 'jbod' },
            volumes: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                required: ['id', 'type', 'size'],
                additionalProperties: false,
                properties: {
                  id: { type: 'integer', minimum: 0 },
                  type: { type: 'string', const: 'persistent-claim' },
                  size: { type: 'string', pattern: '^[0-9]+(Ki|Mi|Gi|Ti)$' },
                  kraftMetadata: { type: 'string', const: 'shared', nullable: true },
                  deleteClaim: { type: 'boolean', nullable: true },
                  class: { type: 'string', nullable: true },
                },
              },
            },
          },
        },
        resources,
      },
    },
  },
};

const kafkaSchema: SchemaObject = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { type: 'string', const: 'kafka.strimzi.io/v1' },
    kind: { type: 'string', const: 'Kafka' },
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' },
        namespace: { type: 'string', nullable: true },
        labels: { type: 'object', nullable: true, required: [], additionalProperties: { type: 'string' } },
      },
    },
    spec: {
      type: 'object',
      required: ['kafka'],
      additionalProperties: false,
      properties: {
        kafka: {
          type: 'object',
          required: ['listeners'],
          additionalProperties: false,
          properties: {
            version: { type: 'string', nullable: true },
            metadataVersion: { type: 'string', nullable: true },
            listeners: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                required: ['name', 'port', 'type', 'tls'],
                additionalProperties: false,
                properties: {
                  // Strimzi: lowercase letters and digits, up to 25 characters; ports from 9092, not 9404 or 9999.
                  name: { type: 'string', pattern: '^[a-z0-9]{1,25}$' },
                  port: { type: 'integer', minimum: 9092, not: { enum: [9404, 9999] } },
                  type: {
                    type: 'string',
                    enum: ['internal', 'route', 'loadbalancer', 'nodeport', 'ingress', 'cluster-ip'],
                  },
                  tls: { type: 'boolean' },
                },
              },
            },
            rack: {
              type: 'object',
              nullable: true,
              required: ['topologyKey'],
              additionalProperties: false,
              properties: { topologyKey: { type: 'string' } },
            },
            config: {
              type: 'object',
              nullable: true,
              required: [],
              additionalProperties: { type: ['string', 'number', 'boolean'] },
            },
          },
        },
        entityOperator: {
          type: 'object',
          nullable: true,
          required: [],
          additionalProperties: false,
          properties: {
            topicOperator: { type: 'object', nullable: true, required: [], additionalProperties: false },
            userOperator: { type: 'object', nullable: true, required: [], additionalProperties: false },
          },
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
const validators: Record<string, ValidateFunction> = {
  KafkaTopic: ajv.compile(kafkaTopicSchema),
  KafkaNodePool: ajv.compile(kafkaNodePoolSchema),
  Kafka: ajv.compile(kafkaSchema),
};

/** Whether an object is a valid KafkaTopic, as the tests read one. */
export function isKafkaTopic(object: unknown): object is KafkaTopic {
  return validators.KafkaTopic(object) === true;
}

/** One message per problem of a Strimzi object; a kind without a model is a problem too. */
export function validateStrimzi(object: { kind: string; metadata?: { name?: string } }): string[] {
  const where = `${object.kind} ${object.metadata?.name}`;
  const validate = validators[object.kind];
  if (!validate) return [`${where}: no Strimzi model for kind ${object.kind}`];
  if (validate(object)) return [];
  return (validate.errors ?? []).map((e) => `${where}: ${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
}
