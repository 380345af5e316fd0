import type { Request, RequestHandler, Response } from 'express';
import { GatewayError, type DataSource } from '@dynmcp/plugin';

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
