export * from './decode-message';
export * from './messages';
export * from './topology';
export * from './version-order';
export * from './validation/contract-validators';
export * from './validation/schemas';
