export * from './kafka-client';
export * from './kafka-consumer.server';
export * from './kafka-publisher';
export * from './topic-admin';
export * from './kafka-readiness.checks';
