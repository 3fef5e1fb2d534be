export * from './decode-message';
export * from './messages';
export * from './topology';
export * from './validation/asana-event-envelope.dto';
export * from './validation/resource-state-message.dto';
