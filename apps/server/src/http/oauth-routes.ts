import { Router, type Response } from 'express';
import type { LiveDefinitions } from '@dynmcp/common';
import { KEY_MODE_HINT, protectedResourceMetadata, resourceMetadataUrl, type OAuthResourceSettings } from './oauth-resource.js';

/** Options of {@link createOAuthRoutes}. */
export interface OAuthRoutesOptions {
  definitions: LiveDefinitions;
  /** OAuth on (`auth.oauth.issuer`); absent: key mode. */
  oauth?: OAuthResourceSettings;
}

/** `/.well-known/oauth-protected-resource[<prefix>]/mcp/<id>`: an instance's metadata, whatever path prefix a proxy added. */
const INSTANCE_METADATA = /^\/\.well-known\/oauth-protected-resource(?:\/.*)?\/mcp\/([^/]+)\/?$/;
const PROTECTED_RESOURCE = /^\/\.well-known\/oauth-protected-resource(?:\/.*)?$/;
/** Authorization server metadata, RFC 8414 and OIDC forms (the latter also appended to an instance path). */
const AUTHORIZATION_SERVER = /^(?:\/mcp\/[^/]+)?\/\.well-known\/(?:oauth-authorization-server|openid-configuration)(?:\/.*)?$/;

/** Metadata may be read by browser clients of other origins (RFC 9728 §3, like any public document). */
function sendJson(res: Response, status: number, body: unknown, cacheSeconds = 0): void {
  res.status(status);
  res.set({
    'access-control-allow-origin': '*',
    'cache-control': cacheSeconds > 0 ? `public, max-age=${cacheSeconds}` : 'no-store',
  });
  res.json(body);
}

/** An OAuth error response (RFC 6749 §5.2): the shape OAuth clients parse and show. */
const oauthError = (res: Response, status: number, error: string, description: string) => sendJson(res, status, { error, error_description: description });

/**
 * The OAuth documents and endpoints clients look for at the gateway's origin.
 *
 * OAuth on: each instance's protected resource metadata (RFC 9728) at
 * `/.well-known/oauth-protected-resource/mcp/<id>`, answered for any id, as a 401 is, so it tells
 * nobody which instances exist (beyond the scopes an instance requires, which clients need to ask
 * for). The root metadata is a 404 (a resource naming the whole origin would make clients mint
 * tokens valid on every instance), and so is authorization server metadata: the issuer serves its
 * own.
 *
 * Key mode: every one of these answers a JSON 404, and the authorization server endpoints that
 * clients fall back to without metadata (`POST /register`, `POST /token`, `GET /authorize`, as the
 * 2025-03-26 revision of MCP placed them) answer an OAuth error; all of them say the gateway takes
 * API keys and how to send one, which is what OAuth clients then show their user.
 */
export function createOAuthRoutes(options: OAuthRoutesOptions): Router {
  const router = Router();
  const { oauth } = options;

  // Browser clients send MCP-Protocol-Version with their metadata requests, which needs a preflight.
  router.options([PROTECTED_RESOURCE, AUTHORIZATION_SERVER], (_req, res) => {
    res.set({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': '*',
      'access-control-max-age': '600',
    });
    res.status(204).end();
  });

  router.get(PROTECTED_RESOURCE, (req, res) => {
    const match = INSTANCE_METADATA.exec(req.path);
    if (oauth === undefined) return oauthError(res, 404, 'not_found', KEY_MODE_HINT);
    if (match === null) {
      return oauthError(
        res,
        404,
        'not_found',
        `Each MCP instance of this gateway is its own protected resource: the metadata of /mcp/<id> is at ${resourceMetadataUrl(oauth.publicUrl, '<id>').replace('%3Cid%3E', '<id>')}`,
      );
    }
    let instanceId: string;
    try {
      instanceId = decodeURIComponent(match[1] as string);
    } catch {
      return oauthError(res, 404, 'not_found', 'not a valid instance path');
    }
    const scopes = options.definitions.instance(instanceId)?.definition.required_scopes ?? [];
    sendJson(res, 200, protectedResourceMetadata(oauth, instanceId, scopes), 60);
  });

  router.get(AUTHORIZATION_SERVER, (_req, res) => {
    if (oauth === undefined) return oauthError(res, 404, 'not_found', KEY_MODE_HINT);
    oauthError(res, 404, 'not_found', `This gateway is not an authorization server; its authorization server is ${oauth.issuer}`);
  });

  const notAnAuthorizationServer =
    oauth === undefined
      ? KEY_MODE_HINT
      : `This gateway is not an authorization server: register clients and get tokens at ${oauth.issuer} (each instance's metadata names it).`;
  router.post('/register', (_req, res) => oauthError(res, 400, 'invalid_request', notAnAuthorizationServer));
  router.post('/token', (_req, res) => oauthError(res, 400, 'invalid_request', notAnAuthorizationServer));
  router.get('/authorize', (_req, res) => oauthError(res, 400, 'invalid_request', notAnAuthorizationServer));
  return router;
}
