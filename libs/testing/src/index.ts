export * from './asana-fixtures';
export * from './app-process';
export * from './otlp-receiver';
export * from './simulator-process';
export * from './test-database';
export * from './test-kafka';
export * from './topic-offsets';
export * from './wait-for';
