export { createLogger, verbosityOf, WRITING_LOG_LEVELS } from './create-logger.js';
export type { CreateLoggerOptions, GatewayLogger, LogLevel } from './create-logger.js';
