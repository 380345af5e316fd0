import { createLogger, loadConfig } from '@dynmcp/common';
import { startGateway } from './start-gateway.js';

/**
 * The composition root: configuration, logger, gateway, signals. Exits non-zero with a message
 * that names the problem when the gateway cannot start.
 */
export async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`dynmcp: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const logger = createLogger({ level: config.log.level });
  let gateway;
  try {
    gateway = await startGateway(config, logger, process.env);
  } catch (error) {
    logger.error('gateway failed to start', { error: (error as Error).message });
    process.stderr.write(`dynmcp: failed to start: ${(error as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    gateway
      .close()
      .then(() => {
        logger.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error('shutdown failed', { error: (error as Error).message });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
