export * from './assets.js';
export * from './create.js';
export * from './gcs.js';
export * from './local.js';
export * from './signing.js';
export * from './types.js';
