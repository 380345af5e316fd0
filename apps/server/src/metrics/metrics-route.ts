import type { RequestHandler } from 'express';
import type { RequestListener } from 'node:http';
import { GatewayError, type Logger } from '@dynmcp/plugin';
import type { GatewayMetrics } from './gateway-metrics.js';

/** `GET /metrics` on the main listener (Express); authentication, when required, runs before it. */
export function metricsHandler(metrics: GatewayMetrics, logger: Logger): RequestHandler {
  return (_req, res, next) => {
    metrics.render().then(
      ({ contentType, body }) => {
        res.status(200).setHeader('content-type', contentType).setHeader('cache-control', 'no-store').send(body);
      },
      (error: unknown) => {
        logger.error('metrics could not be collected', { error: (error as Error).message });
        next(new GatewayError('METRICS_UNAVAILABLE', UNAVAILABLE_MESSAGE));
      },
    );
  };
}

/** Collecting can fail only transiently (a worker of the group did not answer in time): try the next scrape. */
const UNAVAILABLE_MESSAGE = 'metrics could not be collected right now; retry on the next scrape (the gateway log says why)';

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
        const body = JSON.stringify({ code: 503, error: UNAVAILABLE_MESSAGE, error_code: 'METRICS_UNAVAILABLE' });
        res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': '1' });
        res.end(body);
      },
    );
  };
}
