export * from './app-configs';
export * from './env.parts';
export * from './load-config';
export * from './sensitive';
export * from './describe-env';
export * from './webhook-secret-cipher';
