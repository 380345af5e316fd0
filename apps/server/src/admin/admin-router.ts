import express, { type NextFunction, type Request, type Response } from 'express';
import { instanceJsonSchema, toolJsonSchema } from '@dynmcp/common';
import { GatewayError, type AuthProvider } from '@dynmcp/plugin';
import { requireAdmin } from '../http/admin-auth.js';
import type { FailureLimiter } from '../http/failure-limiter.js';
import { sendSuccess } from '../http/envelope.js';
import { parseLimit, parseRollbackRequest, parseSince, type AdminHistory } from './admin-history.js';
import { batchRoute } from './admin-batch-route.js';
import { credentialsRouter, type CredentialAdmin } from './admin-credentials.js';
import type { AdminEvents } from './admin-events.js';
import type { AdminService } from './admin-service.js';
import { parseImportRequest } from './import-request.js';
import { adminJsonBody, optionalJsonBody } from './admin-json-body.js';
import { logLevelRouter, type LogLevelAdminOptions } from './admin-log-level.js';
import { MAX_ADMIN_JSON_DEPTH } from './json-body-guard.js';
import type { OpenApiImporter } from './openapi-import.js';
import { toolTestRoute, type ToolTester } from './tool-test.js';
import { asyncRoute, methodNotAllowed } from './admin-support.js';

/** Options of {@link createAdminRouter}. */
export interface AdminRouterOptions {
  service: AdminService;
  authProviders: readonly AuthProvider[];
  /** Slows down key guessing: failed authentications per client address. */
  authFailures: FailureLimiter;
  bodyLimitBytes: number;
  /** `POST /admin/import/openapi`; the route answers 404 without it. */
  openApiImporter?: OpenApiImporter;
  /** Body limit of the import route, which carries whole API documents (default: `bodyLimitBytes`). */
  importBodyLimitBytes?: number;
  /** History, rollback and audit routes; they answer 404 without it. */
  history?: AdminHistory;
  /** `POST /admin/tds/:id/test` (see tool-test.ts); the route answers 404 without it. */
  toolTester?: ToolTester;
  /** `/admin/credentials` (see admin-credentials.ts); the routes answer 404 without it. */
  credentials?: CredentialAdmin;
  /** `GET /admin/events`, the change stream (see admin-events.ts); the route answers 404 without it. */
  events?: AdminEvents;
  /** `/admin/log-level`, the log level override (see admin-log-level.ts); the route answers 404 without it. */
  logLevel?: LogLevelAdminOptions;
}

/**
 * Reads optimistic-concurrency preconditions: `If-Match: "<revision>"` (write only over that
 * revision) and `If-None-Match: *` (create only). `If-Match: *` is answered by {@link requireExisting}.
 */
function precondition(req: Request): number | undefined {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') throw new GatewayError('INVALID_PAYLOAD', 'If-None-Match supports only "*" (create only)');
    return 0;
  }
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(ifMatch);
  if (!match) throw new GatewayError('INVALID_PAYLOAD', 'If-Match must be an ETag from a previous response, e.g. "42"');
  return Number(match[1]);
}

function requireJson(req: Request, _res: Response, next: NextFunction) {
  if (!req.is('application/json')) {
    next(new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'send the definition as JSON with Content-Type: application/json'));
    return;
  }
  next();
}

const etag = (res: Response, revision: number) => res.setHeader('etag', `"${revision}"`);

/** Who writes, as the history records it: the principal's name or id, never a credential. */
const writer = (req: Request) => ({ principal: req.principal?.id });

/**
 * The admin API, exactly the routes and envelope of the Rust project dynmcp, so its clients work unchanged: `GET/PUT/DELETE /admin/tds/:id`,
 * `GET /admin/tds`, the same for `/admin/ids`, plus the published JSON Schemas under
 * `/admin/schemas`. Every route needs an admin credential.
 */
export function createAdminRouter(options: AdminRouterOptions): express.Router {
  const { service } = options;
  const router = express.Router({ caseSensitive: true, strict: false });
  const body = [requireJson, ...adminJsonBody(options.bodyLimitBytes)];

  router.use(requireAdmin(options.authProviders, options.authFailures));

  async function requireExisting(req: Request, kind: 'tds' | 'ids', id: string) {
    if (req.headers['if-match']?.trim() === '*') {
      await (kind === 'tds' ? service.getTool(id) : service.getInstance(id)).catch(() => {
        throw new GatewayError('PRECONDITION_FAILED', `If-Match: * but there is no record with id "${id}"`);
      });
    }
  }

  router.get('/schemas/tds', (_req, res) => sendSuccess(res, toolJsonSchema));
  router.get('/schemas/ids', (_req, res) => sendSuccess(res, instanceJsonSchema));
  router.get('/status', asyncRoute(async (_req, res) => sendSuccess(res, await service.status())));
  router.post('/batch', body, batchRoute(service));
  if (options.events !== undefined) router.get('/events', options.events.handler);

  const importer = options.openApiImporter;
  if (importer !== undefined) {
    // API documents nest deeper than definitions (schemas within schemas): twice the usual depth.
    const importBody = [requireJson, ...adminJsonBody(options.importBodyLimitBytes ?? options.bodyLimitBytes, 2 * MAX_ADMIN_JSON_DEPTH)];
    router.post(
      '/import/openapi',
      importBody,
      asyncRoute(async (req, res) => sendSuccess(res, await importer(parseImportRequest(req.body), req.principal?.id))),
    );
  }

  router.get('/tds', asyncRoute(async (_req, res) => sendSuccess(res, await service.listTools())));
  router.get(
    '/tds/:id',
    asyncRoute(async (req, res) => {
      const { record, meta } = await service.getTool(req.params.id as string);
      etag(res, record.revision);
      sendSuccess(res, record.value, { ...meta });
    }),
  );
  router.put(
    '/tds/:id',
    body,
    asyncRoute(async (req, res) => {
      const id = req.params.id as string;
      const ifRevision = precondition(req);
      await requireExisting(req, 'tds', id);
      const { record, meta } = await service.putTool(id, req.body, ifRevision, writer(req));
      etag(res, record.revision);
      sendSuccess(res, record.value, { ...meta });
    }),
  );
  router.delete(
    '/tds/:id',
    asyncRoute(async (req, res) => {
      const meta = await service.deleteTool(req.params.id as string, precondition(req), writer(req));
      sendSuccess(res, null, { ...meta });
    }),
  );

  if (options.toolTester !== undefined) router.post('/tds/:id/test', optionalJsonBody(body), toolTestRoute(options.toolTester));

  router.get('/ids', asyncRoute(async (_req, res) => sendSuccess(res, await service.listInstances())));
  router.get(
    '/ids/:id',
    asyncRoute(async (req, res) => {
      const { record, meta } = await service.getInstance(req.params.id as string);
      etag(res, record.revision);
      sendSuccess(res, record.value, { ...meta });
    }),
  );
  router.put(
    '/ids/:id',
    body,
    asyncRoute(async (req, res) => {
      const id = req.params.id as string;
      const ifRevision = precondition(req);
      await requireExisting(req, 'ids', id);
      const { record, meta } = await service.putInstance(id, req.body, ifRevision, writer(req));
      etag(res, record.revision);
      sendSuccess(res, record.value, { ...meta });
    }),
  );
  router.delete(
    '/ids/:id',
    asyncRoute(async (req, res) => {
      const meta = await service.deleteInstance(req.params.id as string, precondition(req), writer(req));
      sendSuccess(res, null, { ...meta });
    }),
  );

  const history = options.history;
  if (history !== undefined) {
    for (const kind of ['tds', 'ids'] as const) {
      router.get(
        `/${kind}/:id/history`,
        asyncRoute(async (req, res) => sendSuccess(res, await history.history(kind, req.params.id as string, parseLimit(req.query.limit)))),
      );
      router.post(
        `/${kind}/:id/rollback`,
        body,
        asyncRoute(async (req, res) => {
          const id = req.params.id as string;
          const revision = parseRollbackRequest(req.body);
          const ifRevision = precondition(req);
          await requireExisting(req, kind, id);
          const { record, meta } = await history.rollback(kind, id, revision, ifRevision, req.principal?.id);
          etag(res, record.revision);
          sendSuccess(res, record.value, { ...meta, rolled_back_to: revision });
        }),
      );
    }
    router.get(
      '/audit',
      asyncRoute(async (req, res) => sendSuccess(res, await history.audit(parseSince(req.query.since), parseLimit(req.query.limit)))),
    );
  }

  if (options.credentials !== undefined) router.use('/credentials', credentialsRouter(options.credentials, body, precondition));
  if (options.logLevel !== undefined) router.use('/log-level', logLevelRouter(options.logLevel, body));

  router.all(
    [
      '/tds', '/ids', '/tds/:id', '/ids/:id', '/status', '/batch',
      ...(options.events === undefined ? [] : ['/events']),
      ...(importer === undefined ? [] : ['/import/openapi']),
      ...(history === undefined ? [] : ['/tds/:id/history', '/ids/:id/history', '/tds/:id/rollback', '/ids/:id/rollback', '/audit']),
    ],
    methodNotAllowed,
  );
  router.use((req, _res, next) => next(new GatewayError('NOT_FOUND', `no admin route ${req.method} ${req.baseUrl}${req.path}`)));
  return router;
}
