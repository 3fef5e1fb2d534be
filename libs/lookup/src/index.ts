export * from './key-scan';
export * from './resource-lookup';
