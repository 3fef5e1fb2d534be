export * from './asana-api.errors';
export * from './asana-client';
export * from './asana-request-pacer';
export * from './compact-event';
export * from './event-id';
export * from './signature';
export * from './webhook-registration';
export * from './types';
