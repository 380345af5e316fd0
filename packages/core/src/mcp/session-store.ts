import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceView } from '@dynmcp/common';
import type { Logger, Principal, ToolLogLevel } from '@dynmcp/plugin';
import { toNodeHandler, type NodeMcpRequestHandler } from '@modelcontextprotocol/node';
import { isInitializeRequest, WebStandardStreamableHTTPServerTransport, type Server } from '@modelcontextprotocol/server';
import type { Cancellation } from '../cancellation.js';
import { servesCaller } from './instance-access.js';
import { JsonRpcErrorCode } from './json-rpc-errors.js';
import { replyJsonRpc, replyJsonRpcError } from './json-rpc-reply.js';
import { requestIdOf } from './request-checks.js';
import type { SessionLogLevels } from './session-log-levels.js';
import { isRevocationsFull, type SessionRevocations } from './session-revocations.js';
import { restoreSession } from './session-restore.js';
import type { SessionClaims, SessionTokens } from './session-token.js';
import { replyTransportRefusal, transportHeaderRefusal } from './transport-headers.js';

interface Session {
  /** The session token, as the client sends it in `Mcp-Session-Id`. */
  id: string;
  instanceId: string;
  /** The caller that opened it (`ownerKey`); to anyone else the session does not exist. */
  owner: string;
  /**
   * That caller's principal as its latest request here authenticated (`undefined`: anonymous, on a
   * public instance), for telling whether a changed instance still serves the session.
   */
  principal: Principal | undefined;
  /** What a revocation of this session names. */
  nonce: string;
  /** Epoch ms the token expires. */
  expiresAt: number;
  server: Server;
  transport: WebStandardStreamableHTTPServerTransport;
  /** The transport behind node:http (the SDK's own adapter). */
  node: NodeMcpRequestHandler;
  lastSeen: number;
  /** Open GET streams; a session with one is never idle. */
  openStreams: number;
  /** Calls answered by the fast path, by JSON-RPC id, so `notifications/cancelled` can abort them. */
  inflight: Map<string | number, Cancellation>;
  /**
   * The client set a log level, here or through another replica: its calls go through the SDK,
   * whose log notifications the instance server filters by that level.
   */
  logging: boolean;
}

/** What the session fast path sees of a session. */
export interface FastSession {
  readonly id: string;
  readonly inflight: Map<string | number, Cancellation>;
  readonly logging: boolean;
}

/** Who sends a request to the session store, as the HTTP layer's access check decided. */
export interface SessionCaller {
  /** `ownerKey` of the caller: what its sessions are bound to. */
  owner: string;
  /** The authenticated principal; `undefined` on a public instance. */
  principal: Principal | undefined;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  createServer(instanceId: string): Server;
  /** Answers a plain request of a live session without the SDK, or returns false (see fast-path.ts). */
  fastPath?(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown, session: FastSession): boolean;
  /** Signs new session ids and verifies presented ones (session-token.ts). */
  tokens: SessionTokens;
  /** Sessions ended with DELETE, here or on another replica (session-revocations.ts). */
  revocations: SessionRevocations;
  /** Log levels sessions set with `logging/setLevel`, here or on another replica (session-log-levels.ts). */
  logLevels?: SessionLogLevels;
  /** A session held here without requests or an open stream for this long is dropped here (not ended). */
  idleTimeoutMs: number;
  maxSessions: number;
  /** Most sessions one caller may hold here (0: no cap of its own, only `maxSessions`). */
  maxSessionsPerOwner: number;
  logger: Logger;
  now?: () => number;
}

/**
 * 2025-era stateful sessions (Streamable HTTP with `Mcp-Session-Id`): one SDK server and transport
 * per session, never shared (an SDK server shared by two sessions can send one client's answers to
 * the other's stream).
 *
 * The session id is a signed token (session-token.ts) saying which instance and which caller the
 * session belongs to and until when it is valid, so any replica sharing the secret serves any
 * session: a replica that has not seen a session verifies its token once and builds its server
 * and transport in the initialized state (session-restore.ts); later requests find them held.
 * What a replica holds is a cache: dropped when idle or over nothing, rebuilt on the next request.
 * A session ends when its token expires or with DELETE, which is recorded in the store so that
 * every replica refuses it (session-revocations.ts). Caps count the sessions held on this replica.
 * A definition change ends the sessions held here that the instance no longer serves (deleted,
 * made stateless, or no longer open to the session's caller): their GET streams close with them.
 */
export interface SessionStore {
  /** Serves one request of `caller` for a session of the instance `view` shows. */
  handle(req: IncomingMessage, res: ServerResponse, body: unknown, view: InstanceView, caller: SessionCaller): Promise<void>;
  /** Sends `notifications/tools/list_changed` to every session of the instance held here. */
  notifyToolsChanged(instanceId: string): void;
  /**
   * After a definition change, drops the sessions of the instance held here that `view` (the
   * instance as it is now; `undefined`: deleted) no longer serves: every one of a deleted or now
   * stateless instance, and those whose caller may no longer use it (instance-access.ts). Their
   * GET streams end with them. Nothing is recorded: every replica applies the same change from its
   * feed, and its access check refuses the caller's requests from then on.
   */
  endUnserved(instanceId: string, view: InstanceView | undefined): Promise<void>;
  /** Sessions held on this replica. */
  count(instanceId?: string): number;
  /** The log level the session with id `token` set through any replica, when it is held here and set one. */
  logLevelOf(token: string): ToolLogLevel | undefined;
  close(): Promise<void>;
}

type Refusal = 'owner-cap' | 'global-cap';

/** Creates an empty {@link SessionStore} with its idle sweeper running. */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const now = options.now ?? Date.now;
  const { tokens, revocations } = options;
  const sessions = new Map<string, Session>();
  /** Sessions per owner, counted from the start of their opening so concurrent ones cannot overshoot. */
  const perOwner = new Map<string, number>();
  /** Sessions being rebuilt from their token, so concurrent first requests build one. */
  const restoring = new Map<string, Promise<Session | Refusal | undefined>>();
  let opening = 0;
  const logger = options.logger.child({ component: 'sessions' });
  const sweeper = setInterval(sweep, Math.max(1000, Math.min(60_000, options.idleTimeoutMs / 2)));
  sweeper.unref();

  // A session ended on another replica is dropped here as soon as the feed says so.
  revocations.onRevoked((nonce) => {
    for (const session of sessions.values()) if (session.nonce === nonce) void closeSession(session);
  });

  /** Records the level of each `logging/setLevel` in `body` (one message or a 2025-03-26 batch). */
  function noteLogLevels(session: Session, body: unknown) {
    if (Array.isArray(body)) for (const message of body) noteLogLevel(session, message);
    else noteLogLevel(session, body);
  }

  function noteLogLevel(session: Session, message: unknown) {
    if (!isNotificationOrRequest(message) || message.method !== 'logging/setLevel') return;
    session.logging = true;
    const level = (message.params as { level?: unknown } | undefined)?.level;
    if (typeof level === 'string') void options.logLevels?.set(session.nonce, session.expiresAt, level);
  }

  function sweep() {
    const at = now();
    const idleSince = at - options.idleTimeoutMs;
    for (const session of sessions.values()) {
      if (session.expiresAt <= at) {
        logger.info('expired session closed', { instanceId: session.instanceId });
        void closeSession(session);
      } else if (session.openStreams === 0 && session.lastSeen < idleSince) {
        // Only this replica's copy goes: the token stays valid and the next request rebuilds it.
        logger.debug('idle session dropped', { instanceId: session.instanceId });
        void closeSession(session);
      }
    }
  }

  function countOwner(owner: string, delta: number) {
    const count = (perOwner.get(owner) ?? 0) + delta;
    if (count > 0) perOwner.set(owner, count);
    else perOwner.delete(owner);
  }

  /** Forgets a session once, whichever of closeSession and the transport's onclose comes first. */
  function forget(session: Session) {
    if (sessions.get(session.id) !== session) return;
    sessions.delete(session.id);
    countOwner(session.owner, -1);
  }

  async function closeSession(session: Session) {
    forget(session);
    await dispose(session.server, session.transport);
  }

  /** Which cap, if any, refuses one more session of `owner` here. */
  function refusal(owner: string): Refusal | undefined {
    const cap = options.maxSessionsPerOwner;
    if (cap > 0 && (perOwner.get(owner) ?? 0) >= cap) return 'owner-cap';
    if (sessions.size + opening >= options.maxSessions) return 'global-cap';
    return undefined;
  }

  /** Answers a request a cap refuses; the error names the request's id when `body` is one request with an id. */
  function refuse(res: ServerResponse, body: unknown, why: Refusal, owner: string) {
    const id = requestIdOf(body);
    if (why === 'global-cap') {
      const error = { code: JsonRpcErrorCode.ServerError, message: 'Too many sessions on this gateway; retry later' };
      replyJsonRpc(res, 503, { jsonrpc: '2.0', id, error }, { 'retry-after': '5' });
      return;
    }
    // The caller's own cap: 429, and only this caller is refused (RFC 6585 §4). No Retry-After:
    // a slot frees when the caller ends a session or one of its sessions goes idle.
    const message =
      `Too many sessions: caller "${owner}" holds ${options.maxSessionsPerOwner}, the most one caller may (mcp.maxSessionsPerPrincipal); ` +
      'end unused ones with DELETE or wait for idle ones to expire';
    replyJsonRpc(res, 429, { jsonrpc: '2.0', id, error: { code: JsonRpcErrorCode.ServerError, message } });
  }

  function track(claims: SessionClaims, token: string, caller: SessionCaller, server: Server, transport: WebStandardStreamableHTTPServerTransport): Session {
    const session: Session = {
      id: token,
      instanceId: claims.instanceId,
      owner: caller.owner,
      principal: caller.principal,
      nonce: claims.nonce,
      expiresAt: claims.expiresAt,
      server,
      transport,
      node: nodeHandlerOf(transport),
      lastSeen: now(),
      openStreams: 0,
      inflight: new Map(),
      logging: false,
    };
    transport.onclose = () => forget(session);
    sessions.set(token, session);
    return session;
  }

  /** Opens a new session: the client's initialize, answered by a fresh server and transport. */
  async function open(req: IncomingMessage, res: ServerResponse, body: unknown, instanceId: string, caller: SessionCaller) {
    const owner = caller.owner;
    const refused = refusal(owner);
    if (refused !== undefined) return refuse(res, body, refused, owner);
    opening += 1;
    countOwner(owner, 1);
    let established = false;
    try {
      const params = (body as { params?: { protocolVersion?: unknown; capabilities?: unknown } }).params ?? {};
      const { token, claims } = tokens.issue(instanceId, owner, params);
      const server = options.createServer(instanceId);
      const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => token,
        onsessioninitialized: () => {
          established = true;
          track(claims, token, caller, server, transport);
        },
      });
      await server.connect(transport);
      // The session, once initialized, gets its own adapter (track); this one serves the initialize.
      await nodeHandlerOf(transport)(req, res, body);
      if (!established) {
        // The initialize was refused (bad version, headers…): nothing to keep.
        await dispose(server, transport);
      }
    } finally {
      opening -= 1;
      // The owner's count now belongs to the session (given back by forget) or was never used.
      if (!established) countOwner(owner, -1);
    }
  }

  /** Rebuilds, in the initialized state, a session this replica does not hold (its token verified). */
  async function restore(token: string, claims: SessionClaims, caller: SessionCaller): Promise<Session | Refusal | undefined> {
    const owner = caller.owner;
    const refused = refusal(owner);
    if (refused !== undefined) return refused;
    opening += 1;
    countOwner(owner, 1);
    let session: Session | undefined;
    try {
      const server = options.createServer(claims.instanceId);
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => token });
      await server.connect(transport);
      try {
        await restoreSession(transport, token, claims);
      } catch (error) {
        logger.error('session could not be restored', { instanceId: claims.instanceId, error: (error as Error).message });
        await dispose(server, transport);
        return undefined;
      }
      // Revoked or expired while it was being rebuilt: the request is answered as for any unknown session.
      if (revocations.has(claims.nonce) || claims.expiresAt <= now()) {
        await dispose(server, transport);
        return undefined;
      }
      session = track(claims, token, caller, server, transport);
      logger.debug('session restored', { instanceId: claims.instanceId });
      return session;
    } finally {
      opening -= 1;
      if (session === undefined) countOwner(owner, -1);
    }
  }

  /** The session `token` names for this caller and instance, held or rebuilt; answers the request when there is none. */
  async function find(res: ServerResponse, body: unknown, token: string, instanceId: string, caller: SessionCaller): Promise<Session | undefined> {
    const owner = caller.owner;
    const held = sessions.get(token);
    // A session of another instance, or opened by another caller, is as unknown here as a made-up
    // id: the same 404, so a session id learnt from a log or a proxy is worth nothing to anyone else.
    if (held !== undefined && held.instanceId === instanceId && held.owner === owner && held.expiresAt > now()) return held;
    if (held !== undefined && held.expiresAt <= now()) void closeSession(held);
    if (held === undefined) {
      const claims = tokens.verify(token, instanceId, owner);
      if (claims !== undefined && !revocations.has(claims.nonce)) {
        let pending = restoring.get(token);
        if (pending === undefined) {
          pending = restore(token, claims, caller).finally(() => restoring.delete(token));
          restoring.set(token, pending);
        }
        const restored = await pending;
        if (typeof restored === 'string') {
          refuse(res, body, restored, owner);
          return undefined;
        }
        if (restored !== undefined) return restored;
      }
    }
    replyJsonRpcError(res, 404, JsonRpcErrorCode.NotFound, 'Session not found');
    return undefined;
  }

  /**
   * DELETE: ends the session on every replica. The revocation is recorded first; only then is the
   * session dropped here and the client told, so a 200 means no replica serves it once the store's
   * feed has reached it.
   */
  async function end(res: ServerResponse, token: string, instanceId: string, owner: string) {
    const held = sessions.get(token);
    const claims =
      held !== undefined && held.instanceId === instanceId && held.owner === owner
        ? { nonce: held.nonce, expiresAt: held.expiresAt }
        : held === undefined
          ? tokens.verify(token, instanceId, owner)
          : undefined;
    if (claims === undefined || claims.expiresAt <= now() || revocations.has(claims.nonce)) {
      return replyJsonRpcError(res, 404, JsonRpcErrorCode.NotFound, 'Session not found');
    }
    try {
      await revocations.revoke(claims.nonce, claims.expiresAt);
    } catch (error) {
      const full = isRevocationsFull(error);
      logger.warn('session not ended', { instanceId, error: (error as Error).message });
      const message = full
        ? 'Session not ended: too many ended sessions are held until they expire; retry later'
        : 'Session not ended: the store is unreachable; retry later';
      return replyJsonRpcError(res, 503, JsonRpcErrorCode.ServerError, message, { 'retry-after': '5' });
    }
    if (held !== undefined) await closeSession(held);
    res.writeHead(200);
    res.end();
  }

  return {
    async handle(req, res, body, view, caller) {
      // What the transport refuses for its headers is refused first, as the transport does, before
      // the store looks a session up or acts on the body (a cancellation, a log level) or a fast
      // path answers: such a request gets the same refusal, and has the same effect, on every route.
      const headerRefusal = transportHeaderRefusal(req);
      if (headerRefusal !== undefined) return replyTransportRefusal(res, headerRefusal);
      const instanceId = view.id;
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (sessionId === undefined) {
        if (req.method === 'POST' && isInitializeRequest(body)) return open(req, res, body, instanceId, caller);
        return replyJsonRpcError(res, 400, JsonRpcErrorCode.ServerError, 'Bad Request: Mcp-Session-Id header is required');
      }
      if (req.method === 'DELETE') return end(res, sessionId, instanceId, caller.owner);
      const session = await find(res, body, sessionId, instanceId, caller);
      if (session === undefined) return;
      session.lastSeen = now();
      session.principal = caller.principal;
      if (req.method === 'POST') noteLogLevels(session, body);
      // A level set through another replica: calls go through the SDK, whose log messages the
      // instance server filters by it.
      if (!session.logging && options.logLevels?.levelOf(session.nonce) !== undefined) session.logging = true;
      if (req.method === 'POST' && isNotificationOrRequest(body)) {
        if (body.method === 'notifications/cancelled') {
          const requestId = (body.params as { requestId?: unknown } | undefined)?.requestId;
          if (typeof requestId === 'string' || typeof requestId === 'number') session.inflight.get(requestId)?.abort();
        }
        if (options.fastPath?.(req, res, view, body, session)) return;
      }
      if (req.method === 'GET') {
        session.openStreams += 1;
        res.once('close', () => {
          session.openStreams -= 1;
          session.lastSeen = now();
          // The SDK's adapter notices a gone client only at the next keep-alive; end the stream now,
          // so the client's reconnection (to this replica or another) is not refused as a second stream.
          if (res.statusCode === 200) session.transport.closeStandaloneSSEStream();
        });
      }
      await session.node(req, res, body);
    },
    notifyToolsChanged(instanceId) {
      for (const session of sessions.values()) {
        if (session.instanceId !== instanceId) continue;
        session.server.sendToolListChanged().catch((error: unknown) => {
          logger.debug('list_changed not delivered', { instanceId, error: (error as Error).message });
        });
      }
    },
    logLevelOf(token) {
      const session = sessions.get(token);
      return session === undefined ? undefined : options.logLevels?.levelOf(session.nonce);
    },
    async endUnserved(instanceId, view) {
      const served = (session: Session) =>
        view !== undefined && view.protoType === 'streamable-stateful' && servesCaller(session.principal, view.definition);
      const ending = [...sessions.values()].filter((session) => session.instanceId === instanceId && !served(session));
      if (ending.length === 0) return;
      logger.info('sessions the instance no longer serves ended', { instanceId, sessions: ending.length, deleted: view === undefined });
      await Promise.all(ending.map(closeSession));
    },
    count(instanceId) {
      if (instanceId === undefined) return sessions.size;
      let n = 0;
      for (const session of sessions.values()) if (session.instanceId === instanceId) n += 1;
      return n;
    },
    async close() {
      clearInterval(sweeper);
      await Promise.all([...sessions.values()].map(closeSession));
    },
  };
}

/** Closes a session's transport, then its server; a failure to close leaves nothing to do. */
async function dispose(server: Server, transport: WebStandardStreamableHTTPServerTransport): Promise<void> {
  await transport.close().catch(() => undefined);
  await server.close().catch(() => undefined);
}

/**
 * The SDK's node:http adapter around a web-standard transport (it takes any fetch-shaped handler);
 * `req.auth` reaches the handlers as `authInfo`, as with the SDK's Node transport.
 */
function nodeHandlerOf(transport: WebStandardStreamableHTTPServerTransport): NodeMcpRequestHandler {
  return toNodeHandler({ fetch: (request, handlerOptions) => transport.handleRequest(request, handlerOptions) });
}

function isNotificationOrRequest(body: unknown): body is { method: string; params?: unknown } {
  return body !== null && typeof body === 'object' && typeof (body as { method?: unknown }).method === 'string';
}
