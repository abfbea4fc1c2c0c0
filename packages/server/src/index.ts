export { type AppOptions, createApp } from './app.js';
export { type ApiServer, startApiServer } from './http-server.js';
export { createRuntime, type Runtime } from './runtime.js';
