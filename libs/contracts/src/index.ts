export * from './messages';
export * from './topology';
