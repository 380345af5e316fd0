import type { RequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import type { Logger } from '@dynmcp/plugin';
import type { GatewayMetrics } from './gateway-metrics.js';

/** `GET /metrics` on the main listener (Express); authentication, when required, runs before it. */
export function metricsHandler(metrics: GatewayMetrics): RequestHandler {
  return (_req, res, next) => {
    metrics.render().then(({ contentType, body }) => {
      res.status(200).setHeader('content-type', contentType).setHeader('cache-control', 'no-store').send(body);
    }, next);
  };
}

/**
 * The listener of `metrics.port`: `GET /metrics` and nothing else, without authentication (the
 * port is the boundary: expose it to the scraper's network only).
 */
export function createMetricsListener(metrics: GatewayMetrics, logger: Logger): RequestListener {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      const body = JSON.stringify({ code: 404, error: `no route ${req.method ?? ''} ${path ?? ''}; this port serves GET /metrics`, error_code: 'NOT_FOUND' });
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        logger.error('metrics could not be collected', { error: (error as Error).message });
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics could not be collected; see the gateway log');
      },
    );
  };
}
