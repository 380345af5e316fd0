export { createLogger } from './create-logger.js';
export type { CreateLoggerOptions } from './create-logger.js';
