export * from './health.module';
export * from './json-logger';
export * from './pipeline-app';
export * from './run-app';
export * from './wait-for-dependencies';
