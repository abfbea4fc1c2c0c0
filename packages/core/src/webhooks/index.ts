export * from './emit.js';
export * from './events.js';
export * from './sign.js';
export * from './ssrf.js';
