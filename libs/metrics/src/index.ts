export * from './buckets';
export * from './exposition';
export * from './labels';
export * from './registry';
export * from './scrape-cache';
