// The public surface of @dynmcp/server, for embedding the gateway in another program.
export { createApp } from './app.js';
export type { AppDeps } from './app.js';
export { startGateway } from './start-gateway.js';
export type { RunningGateway } from './start-gateway.js';
export { main } from './main.js';
