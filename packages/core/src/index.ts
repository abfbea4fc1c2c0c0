export * from './config.js';
export * from './crypto.js';
export * from './errors.js';
export * from './jobs.js';
export * from './logger.js';
export * from './mail/index.js';
