export { type AppOptions, createApp, createRequestListener } from './app.js';
export { type ApiServer, startApiServer } from './http-server.js';
export { createRuntime, type Runtime } from './runtime.js';
