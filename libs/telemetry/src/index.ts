export * from './start-telemetry';
export * from './telemetry.module';
export * from './trace-context';
