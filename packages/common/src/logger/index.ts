export { createLogger } from './create-logger.js';
export type { CreateLoggerOptions, GatewayLogger, LogLevel } from './create-logger.js';
