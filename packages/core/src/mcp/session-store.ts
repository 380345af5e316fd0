import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceView } from '@dynmcp/common';
import type { Logger } from '@dynmcp/plugin';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, type Server } from '@modelcontextprotocol/server';
import { JsonRpcErrorCode } from './json-rpc-errors.js';
import { replyJsonRpcError } from './json-rpc-reply.js';

interface Session {
  id: string;
  instanceId: string;
  /** The caller that opened it (`ownerKey`); to anyone else the session does not exist. */
  owner: string;
  server: Server;
  transport: NodeStreamableHTTPServerTransport;
  lastSeen: number;
  /** Open GET streams; a session with one is never idle. */
  openStreams: number;
  /** Calls answered by the fast path, by JSON-RPC id, so `notifications/cancelled` can abort them. */
  inflight: Map<string | number, AbortController>;
  /** The client set a log level: its calls go through the SDK, which routes log notifications. */
  logging: boolean;
}

/** What the session fast path sees of a session. */
export interface FastSession {
  readonly id: string;
  readonly inflight: Map<string | number, AbortController>;
  readonly logging: boolean;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  createServer(instanceId: string): Server;
  /** Answers a plain request of a live session without the SDK, or returns false (see fast-path.ts). */
  fastPath?(req: IncomingMessage, res: ServerResponse, view: InstanceView, body: unknown, session: FastSession): boolean;
  idleTimeoutMs: number;
  maxSessions: number;
  /** Most sessions one caller may hold (0: no cap of its own, only `maxSessions`). */
  maxSessionsPerOwner: number;
  logger: Logger;
  now?: () => number;
}

/**
 * 2025-era stateful sessions (Streamable HTTP with `Mcp-Session-Id`): one SDK server and transport
 * per session, never shared (GHSA-345p-7cg4-v4c7). Sessions are bound to their instance and to the
 * caller that opened them, expire when idle, are capped per caller and in all, and are closed with
 * `transport.close()` so nothing leaks.
 */
export interface SessionStore {
  /** Serves one request of `owner` (`ownerKey` of the caller) for a session of the instance `view` shows. */
  handle(req: IncomingMessage, res: ServerResponse, body: unknown, view: InstanceView, owner: string): Promise<void>;
  /** Sends `notifications/tools/list_changed` to every session of the instance. */
  notifyToolsChanged(instanceId: string): void;
  /** Ends every session of the instance (it was deleted or became stateless). */
  closeInstance(instanceId: string): Promise<void>;
  count(instanceId?: string): number;
  close(): Promise<void>;
}

/** Creates an empty {@link SessionStore} with its idle sweeper running. */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const now = options.now ?? Date.now;
  const sessions = new Map<string, Session>();
  /** Sessions per owner, counted from the start of their initialize so concurrent ones cannot overshoot. */
  const perOwner = new Map<string, number>();
  let opening = 0;
  const logger = options.logger.child({ component: 'sessions' });
  const sweeper = setInterval(sweep, Math.max(1000, Math.min(60_000, options.idleTimeoutMs / 2)));
  sweeper.unref();

  function sweep() {
    const limit = now() - options.idleTimeoutMs;
    for (const session of sessions.values()) {
      if (session.openStreams === 0 && session.lastSeen < limit) {
        logger.info('idle session closed', { sessionId: session.id, instanceId: session.instanceId });
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
  function forget(id: string) {
    const session = sessions.get(id);
    if (session === undefined) return;
    sessions.delete(id);
    countOwner(session.owner, -1);
  }

  async function closeSession(session: Session) {
    forget(session.id);
    await session.transport.close().catch(() => undefined);
    await session.server.close().catch(() => undefined);
  }

  async function open(req: IncomingMessage, res: ServerResponse, body: unknown, instanceId: string, owner: string) {
    const cap = options.maxSessionsPerOwner;
    if (cap > 0 && (perOwner.get(owner) ?? 0) >= cap) {
      // The caller's own cap: 429, and only this caller is refused (RFC 6585 §4). No Retry-After:
      // a slot frees when the caller ends a session or one of its sessions expires.
      const message =
        `Too many sessions: caller "${owner}" holds ${cap}, the most one caller may (mcp.maxSessionsPerPrincipal); ` +
        'end unused ones with DELETE or wait for idle ones to expire';
      replyJsonRpcError(res, 429, JsonRpcErrorCode.ServerError, message);
      return;
    }
    if (sessions.size + opening >= options.maxSessions) {
      replyJsonRpcError(res, 503, JsonRpcErrorCode.ServerError, 'Too many sessions on this gateway; retry later', { 'retry-after': '5' });
      return;
    }
    opening += 1;
    countOwner(owner, 1);
    let established = false;
    try {
      const server = options.createServer(instanceId);
      const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => {
          established = true;
          const session = { id, instanceId, owner, server, transport, lastSeen: now(), openStreams: 0, inflight: new Map(), logging: false };
          sessions.set(id, session);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId !== undefined) forget(transport.sessionId);
      };
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
      if (transport.sessionId === undefined) {
        // The initialize was refused (bad version, headers…): nothing to keep.
        await transport.close().catch(() => undefined);
        await server.close().catch(() => undefined);
      }
    } finally {
      opening -= 1;
      // The owner's count now belongs to the session (given back by forget) or was never used.
      if (!established) countOwner(owner, -1);
    }
  }

  return {
    async handle(req, res, body, view, owner) {
      const instanceId = view.id;
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (sessionId === undefined) {
        if (req.method === 'POST' && isInitializeRequest(body)) return open(req, res, body, instanceId, owner);
        return replyJsonRpcError(res, 400, JsonRpcErrorCode.ServerError, 'Bad Request: Mcp-Session-Id header is required');
      }
      const session = sessions.get(sessionId);
      // A session of another instance, or opened by another caller, is as unknown here as a made-up
      // id: the same 404, so a session id learnt from a log or a proxy is worth nothing to anyone else.
      if (session === undefined || session.instanceId !== instanceId || session.owner !== owner) {
        return replyJsonRpcError(res, 404, JsonRpcErrorCode.NotFound, 'Session not found');
      }
      session.lastSeen = now();
      if (req.method === 'POST' && isNotificationOrRequest(body)) {
        if (body.method === 'logging/setLevel') session.logging = true;
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
        });
      }
      await session.transport.handleRequest(req, res, body);
    },
    notifyToolsChanged(instanceId) {
      for (const session of sessions.values()) {
        if (session.instanceId !== instanceId) continue;
        session.server.sendToolListChanged().catch((error: unknown) => {
          logger.debug('list_changed not delivered', { sessionId: session.id, error: (error as Error).message });
        });
      }
    },
    async closeInstance(instanceId) {
      const closing = [...sessions.values()].filter((session) => session.instanceId === instanceId);
      await Promise.all(closing.map(closeSession));
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

function isNotificationOrRequest(body: unknown): body is { method: string; params?: unknown } {
  return body !== null && typeof body === 'object' && typeof (body as { method?: unknown }).method === 'string';
}
