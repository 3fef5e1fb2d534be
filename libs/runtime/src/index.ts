export * from './health.module';
export * from './run-app';
