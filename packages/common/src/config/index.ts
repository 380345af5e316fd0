export { configSchema, MAX_TIMER_MS } from './config-schema.js';
export { loadConfig } from './load-config.js';
export type { GatewayConfig, LoadConfigOptions } from './load-config.js';
export { MIN_SESSION_SECRET_BYTES, parseSessionSecret } from './session-secret.js';
