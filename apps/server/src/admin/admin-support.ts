import type { Request, RequestHandler, Response } from 'express';
import type { LiveDefinitions } from '@dynmcp/common';
import { GatewayError, type DataSource, type Logger } from '@dynmcp/plugin';

/** An admin route's handler that may fail: its failure goes to the error handler, which answers it. */
export const asyncRoute =
  (handler: (req: Request, res: Response) => Promise<void>): RequestHandler =>
  (req, res, next) => {
    handler(req, res).catch(next);
  };

/**
 * Fails fast with `503 STORE_UNAVAILABLE` while the store is unreachable, instead of waiting on a
 * dead connection: a write changes nothing (`write`, the default), and a read would show an admin
 * stale records to write over newer ones.
 */
export function assertStoreReachable(datasource: Pick<DataSource, 'health'>, access: 'read' | 'write' = 'write'): void {
  const health = datasource.health();
  if (!health.connected) {
    const outcome = access === 'write' ? 'nothing was changed, retry later' : 'retry later';
    throw new GatewayError('STORE_UNAVAILABLE', `the store is unreachable (${health.reason ?? 'not connected'}); ${outcome}`);
  }
}

/** Answers a method an admin path does not take: `405 METHOD_NOT_ALLOWED`, naming method and path. */
export const methodNotAllowed: RequestHandler = (req, _res, next) =>
  next(new GatewayError('METHOD_NOT_ALLOWED', `${req.method} is not supported on ${req.baseUrl}${req.path}`));

/**
 * Waits until this replica applied a write's `revision`, at most `timeoutMs`, and tells whether it
 * did; if not, the write's answer goes out anyway (it is stored, and applied once the feed delivers
 * it), saying `applied: false`, and the log says so.
 */
export async function settleWrite(
  definitions: Pick<LiveDefinitions, 'waitForRevision' | 'revision'>,
  revision: number,
  timeoutMs: number,
  logger: Logger | undefined,
): Promise<boolean> {
  if (await definitions.waitForRevision(revision, timeoutMs)) return true;
  logger?.warn('write stored but not yet applied by this replica; answering anyway (is the store feed behind?)', {
    revision,
    applied: definitions.revision,
    waitedMs: timeoutMs,
  });
  return false;
}
