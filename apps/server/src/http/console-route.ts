import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { NextFunction, Request, Response } from 'express';
import { GatewayError, type Logger } from '@dynmcp/plugin';

/** Options of {@link createConsoleRoute}. */
export interface ConsoleRouteOptions {
  /** The built console: `index.html` and `assets/` (`consoleDir` of `@dynmcp/console`). */
  dir: string;
  logger: Logger;
}

/**
 * What the console's pages may load and reach: only this origin, no inline or evaluated script
 * (the build emits none), no framing (clickjacking of the admin screens), and nowhere to send a
 * form or a `<base>` to. `data:` images only for the empty favicon.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

interface StaticFile {
  body: Buffer;
  /** The body gzipped, when that is smaller. */
  gzip: Buffer | undefined;
  type: string;
}

/** A client route of the single-page app: plain segments, no dot (so never a file name or `..`), no escape. */
const APP_ROUTE = /^\/(?:[A-Za-z0-9_-]+\/?)*$/;

function load(path: string): StaticFile {
  const body = readFileSync(path);
  const gzip = gzipSync(body);
  return { body, gzip: gzip.length < body.length ? gzip : undefined, type: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' };
}

/**
 * Serves the web console, mounted at `/ui`: the hashed files of `assets/` (cached for a year, as
 * their names change with their content), and `index.html` (revalidated on every load) for `/ui/`
 * and any other plain client route. The files are read once, at start, into memory (the whole
 * console is tens of kilobytes), so a request path is only ever looked up in that map: no path
 * reaches the file system, and anything else, `..` included, is a 404.
 */
export function createConsoleRoute(options: ConsoleRouteOptions) {
  const indexPath = join(options.dir, 'index.html');
  const built = existsSync(indexPath);
  const index = built ? load(indexPath) : undefined;
  const assets = new Map<string, StaticFile>();
  if (built) {
    const assetDir = join(options.dir, 'assets');
    for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) assets.set(`/assets/${name}`, load(join(assetDir, name)));
  } else {
    options.logger.warn('the web console is not built: /ui/ answers 404; build the workspace (npx pnpm@10 run build)', { dir: options.dir });
  }

  const send = (req: Request, res: Response, file: StaticFile, cacheControl: string) => {
    const gzip = file.gzip !== undefined && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    const body = gzip ? (file.gzip as Buffer) : file.body;
    res.setHeader('content-type', file.type);
    res.setHeader('cache-control', cacheControl);
    res.setHeader('vary', 'Accept-Encoding');
    if (gzip) res.setHeader('content-encoding', 'gzip');
    res.setHeader('content-length', String(body.length));
    res.status(200).end(req.method === 'HEAD' ? undefined : body);
  };

  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    res.setHeader('content-security-policy', CONSOLE_CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('cross-origin-opener-policy', 'same-origin');
    // `req.path` is relative to the mount point: `/ui` alone gives `/`, like `/ui/`. The redirect is
    // relative (RFC 9110, 10.2.2: resolved against the request's URL) so that behind a proxy that
    // mounts the gateway under a path prefix `/prefix/ui` leads to `/prefix/ui/`, not `/ui/`.
    if (req.originalUrl.split('?')[0] === '/ui') return res.redirect(301, 'ui/');
    if (index === undefined) return next(new GatewayError('NOT_FOUND', 'the web console is not built: build the workspace (npx pnpm@10 run build)'));
    const asset = assets.get(req.path);
    if (asset !== undefined) return send(req, res, asset, 'public, max-age=31536000, immutable');
    if (req.path === '/index.html' || (!req.path.startsWith('/assets/') && APP_ROUTE.test(req.path))) return send(req, res, index, 'no-cache');
    next(new GatewayError('NOT_FOUND', `no file ${req.path} in the web console`));
  };
}
