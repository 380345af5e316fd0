import type { IncomingMessage } from 'node:http';
import { anonymousPrincipalId } from '@dynmcp/common';
import type { Principal } from '@dynmcp/plugin';
import type { AuthInfo } from '@modelcontextprotocol/server';
import type { CallLease } from './call-limits.js';

/** Who sent an MCP request, as the HTTP layer established it. */
export interface McpCaller {
  /** The authenticated principal; `undefined` on a public instance (no credentials are asked). */
  principal: Principal | undefined;
  /** The client address (behind trusted proxies, the forwarded one). */
  address: string;
}

/**
 * The stable key of a caller: what sessions are bound to and what per-principal limits count
 * against. A principal's id, or `anonymous@<address>` for a caller without one, so the anonymous
 * callers of a public instance are kept apart by address.
 */
export function ownerKey(caller: McpCaller): string {
  return caller.principal?.id ?? anonymousPrincipalId(caller.address);
}

const TAG = 'dynmcp.call';

/** What a `tools/call` request carries from the gateway's front to the tool caller. */
export interface CallTag {
  /** {@link ownerKey} of the caller, for the call's log line. */
  owner: string;
  /** The limits this request was admitted under; absent when no limit applies. */
  lease: CallLease | undefined;
  /**
   * The principal that authenticated this request (the very object, never a copy), for per-caller
   * templates; `undefined` on a public instance.
   */
  principal: Principal | undefined;
}

/**
 * Attaches `tag` to a request. The MCP SDK forwards a Node request's `auth` to its handlers as
 * `ctx.http.authInfo` (every leg: sessions, the stateless legacy leg, 2026-07-28), so this is the
 * one channel that reaches a tools/call handler whichever way the request is served.
 */
export function tagRequest(req: IncomingMessage, tag: CallTag): void {
  const auth: AuthInfo = { token: '', clientId: tag.owner, scopes: [], extra: { [TAG]: tag } };
  (req as IncomingMessage & { auth?: AuthInfo }).auth = auth;
}

/** The tag {@link tagRequest} attached, as the SDK hands it to a handler (`ctx.http.authInfo`). */
export function callTagOf(auth: AuthInfo | undefined): CallTag | undefined {
  return auth?.extra?.[TAG] as CallTag | undefined;
}

/** The tag {@link tagRequest} attached to `req`. */
export function requestCallTag(req: IncomingMessage): CallTag | undefined {
  return callTagOf((req as IncomingMessage & { auth?: AuthInfo }).auth);
}
