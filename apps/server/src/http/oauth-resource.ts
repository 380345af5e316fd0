// The gateway as OAuth protected resources (RFC 9728): each instance, `/mcp/<id>`, is one, named by
// its URL under `server.publicUrl`; the URLs, metadata and challenges derived from it. Also the
// texts that tell OAuth clients of a key-only gateway what to do instead.
import type { GatewayConfig } from '@dynmcp/common';
import { GatewayError } from '@dynmcp/plugin';

/** The gateway's OAuth settings, when OAuth is on (`auth.oauth.issuer`). */
export interface OAuthResourceSettings {
  /** The authorization server clients get tokens from. */
  issuer: string;
  /** The URL clients reach the gateway at (`server.publicUrl`). */
  publicUrl: string;
}

/**
 * What every OAuth endpoint of a key-only gateway says: an OAuth-capable client (the official SDKs,
 * mcp-remote, the Inspector) shows this text to its user when its discovery fails here, so it says
 * what works instead. No status number in it: mcp-remote reads "404" in an error as "try the SSE
 * transport", which would hide the text behind a transport error.
 */
export const KEY_MODE_HINT =
  'This MCP gateway does not use OAuth; it authenticates with API keys. Configure your MCP client to send the header "Authorization: Bearer <api-key>" (or "x-api-key: <api-key>") and no OAuth; ask the gateway operator for a key.';

/** The public URL without trailing slashes (a file setting is not normalised by the schema). */
const base = (publicUrl: string) => publicUrl.replace(/\/+$/, '');

/**
 * The path segment of an instance id. Valid ids are made of `A-Za-z0-9_.:-` and stay as they are,
 * so the resource is the URL clients use (the SDK accepts a resource only as a prefix of it);
 * anything else (an unknown id from a request) is percent-encoded.
 */
const segment = (instanceId: string) => encodeURIComponent(instanceId).replace(/%3A/gi, ':');

/** The resource identifier of an instance (RFC 8707 §2): `<publicUrl>/mcp/<id>`, the audience of its tokens. */
export function instanceResourceUrl(publicUrl: string, instanceId: string): string {
  return `${base(publicUrl)}/mcp/${segment(instanceId)}`;
}

/**
 * Where an instance's protected resource metadata is: the well-known path inserted between the
 * host and the resource's path (RFC 9728 §3.1), `<origin>/.well-known/oauth-protected-resource<path>/mcp/<id>`.
 */
export function resourceMetadataUrl(publicUrl: string, instanceId: string): string {
  const url = new URL(base(publicUrl));
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}/.well-known/oauth-protected-resource${path}/mcp/${segment(instanceId)}`;
}

/** An instance's protected resource metadata (RFC 9728 §2); empty fields are left out (§3.2). */
export function protectedResourceMetadata(settings: OAuthResourceSettings, instanceId: string, scopes: readonly string[]): Record<string, unknown> {
  return {
    resource: instanceResourceUrl(settings.publicUrl, instanceId),
    authorization_servers: [settings.issuer],
    ...(scopes.length === 0 ? {} : { scopes_supported: scopes }),
    bearer_methods_supported: ['header'],
  };
}

/**
 * The `WWW-Authenticate` challenge of a 401 (RFC 9728 §5.1, RFC 6750 §3): where the metadata is,
 * and `error="invalid_token"` when a token was sent and refused (none when no credential came,
 * RFC 6750 §3.1). No scope: the instance's scopes would tell an unauthenticated caller it exists.
 */
export function unauthorizedChallenge(settings: OAuthResourceSettings, instanceId: string, tokenSent: boolean): string {
  const metadata = `resource_metadata="${resourceMetadataUrl(settings.publicUrl, instanceId)}"`;
  return tokenSent ? `Bearer error="invalid_token", error_description="the access token is invalid, expired or not for this resource", ${metadata}` : `Bearer ${metadata}`;
}

/** The `WWW-Authenticate` challenge of a 403 for missing scopes (RFC 6750 §3.1): every scope the instance requires. */
export function insufficientScopeChallenge(settings: OAuthResourceSettings, instanceId: string, scopes: readonly string[]): string {
  return `Bearer error="insufficient_scope", scope="${scopes.join(' ')}", resource_metadata="${resourceMetadataUrl(settings.publicUrl, instanceId)}"`;
}

/** The settings that decide authentication on `/mcp`, read from the configuration by {@link authSettingsOf}. */
export interface AuthSettings {
  /** The auth providers, asked in this order. */
  providers: string[];
  publicUrl?: string;
  oauth?: OAuthResourceSettings;
}

/**
 * The auth providers and OAuth settings of a configuration. With `auth.oauth.issuer` set, the
 * `oauth` provider is asked first unless `auth.providers` places it: the `api-key` provider refuses
 * every bearer token it does not know, so a JWT must reach the OAuth provider before it (which in
 * turn leaves anything that is not a JWT to the next). OAuth needs `server.publicUrl`: the audience
 * of a token is the instance's URL as clients know it, which the Host header cannot be trusted to give.
 */
export function authSettingsOf(config: GatewayConfig): AuthSettings {
  const { issuer } = config.auth.oauth;
  const publicUrl = config.server.publicUrl === '' ? undefined : base(config.server.publicUrl);
  if (issuer === '') return { providers: [...config.auth.providers], ...(publicUrl === undefined ? {} : { publicUrl }) };
  if (publicUrl === undefined) {
    throw new GatewayError(
      'PLUGIN_INVALID',
      'auth.oauth.issuer (DYNMCP_OAUTH_ISSUER) needs server.publicUrl (DYNMCP_PUBLIC_URL): the URL clients reach the gateway at, e.g. https://mcp.example.com; each instance is the protected resource <publicUrl>/mcp/<id>',
    );
  }
  const providers = config.auth.providers.includes('oauth') ? [...config.auth.providers] : ['oauth', ...config.auth.providers];
  if (providers.includes('api-key') && providers.indexOf('api-key') < providers.indexOf('oauth')) {
    throw new GatewayError(
      'PLUGIN_INVALID',
      'auth.providers (DYNMCP_AUTH_PROVIDERS) lists api-key before oauth: the api-key provider refuses every bearer token it does not know, so no OAuth token would reach the oauth provider; list oauth first, or leave it out (it is then asked first)',
    );
  }
  return { providers, publicUrl, oauth: { issuer, publicUrl } };
}
