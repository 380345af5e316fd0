import { randomBytes } from 'node:crypto';
import { createLogger, loadConfig, MAX_TIMER_MS, MIN_SESSION_SECRET_BYTES } from '@dynmcp/common';
import type { Logger } from '@dynmcp/plugin';
import { isClusterWorker, reportWorkerStarted, runClusterPrimary, workerCount } from './cluster.js';
import { startGateway } from './start-gateway.js';

// What a cluster primary allows its workers for a graceful stop beyond `server.shutdownGraceMs`
// (in-flight requests): closing executors, the replica entry and the store after them.
const SHUTDOWN_MARGIN_MS = 5_000;

/**
 * The composition root: configuration, logger, gateway, signals. Exits non-zero with a message
 * that names the problem when the gateway cannot start. With `server.workers` above 1 the first
 * process becomes the cluster primary (`cluster.ts`) and each worker it forks comes back here to
 * run the gateway.
 */
export async function main(): Promise<void> {
  let config;
  // Logged once the logger exists, which needs the configuration's log level.
  const warnings: Array<[message: string, meta: Record<string, unknown>]> = [];
  try {
    config = loadConfig({ onWarning: (message, meta) => warnings.push([message, meta]) });
  } catch (error) {
    process.stderr.write(`dynmcp: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // By the process that reads the environment first: the cluster primary, or the only process.
  // Workers inherit the same environment, so they would only repeat them.
  const logWarnings = (logger: Logger) => {
    for (const [message, meta] of warnings) logger.warn(message, meta);
  };
  const workers = workerCount(config.server.workers);
  if (workers > 1 && !isClusterWorker()) {
    const primaryLogger = createLogger({ level: config.log.level }).child({ component: 'cluster' });
    logWarnings(primaryLogger);
    // Within the longest delay a timer keeps: a grace period near it would otherwise end at once.
    const shutdownDeadlineMs = Math.min(config.server.shutdownGraceMs + SHUTDOWN_MARGIN_MS, MAX_TIMER_MS);
    // Without a configured key each worker would sign session ids with its own, and a session would
    // live only on the worker whose connection opened it: the workers share one made here instead.
    const env: Record<string, string> = config.mcp.sessionSecret.trim() === '' ? { DYNMCP_SESSION_SECRET: randomBytes(MIN_SESSION_SECRET_BYTES).toString('base64') } : {};
    process.exit(await runClusterPrimary({ workers, logger: primaryLogger, shutdownDeadlineMs, env, metrics: config.metrics.enabled }));
  }
  const logger = isClusterWorker() ? createLogger({ level: config.log.level }).child({ workerPid: process.pid }) : createLogger({ level: config.log.level });
  if (!isClusterWorker()) logWarnings(logger);
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
  reportWorkerStarted();
}
