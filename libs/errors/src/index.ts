export * from './asana-stream.error';
export * from './classify-error';
export * from './error-codes';
export * from './safe-text';
