import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@dynmcp/plugin';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, type Server } from '@modelcontextprotocol/server';
import { replyJsonRpcError } from './json-rpc-reply.js';

interface Session {
  id: string;
  instanceId: string;
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
  fastPath?(req: IncomingMessage, res: ServerResponse, instanceId: string, body: unknown, session: FastSession): boolean;
  idleTimeoutMs: number;
  maxSessions: number;
  logger: Logger;
  now?: () => number;
}

/**
 * 2025-era stateful sessions (Streamable HTTP with `Mcp-Session-Id`): one SDK server and transport
 * per session, never shared (GHSA-345p-7cg4-v4c7). Sessions are bound to their instance, expire
 * when idle, are capped, and are closed with `transport.close()` so nothing leaks.
 */
export interface SessionStore {
  handle(req: IncomingMessage, res: ServerResponse, body: unknown, instanceId: string): Promise<void>;
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

  async function closeSession(session: Session) {
    sessions.delete(session.id);
    await session.transport.close().catch(() => undefined);
    await session.server.close().catch(() => undefined);
  }

  async function open(req: IncomingMessage, res: ServerResponse, body: unknown, instanceId: string) {
    if (sessions.size >= options.maxSessions) {
      replyJsonRpcError(res, 503, -32000, 'Too many sessions on this gateway; retry later', { 'retry-after': '5' });
      return;
    }
    const server = options.createServer(instanceId);
    const transport: NodeStreamableHTTPServerTransport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        sessions.set(id, { id, instanceId, server, transport, lastSeen: now(), openStreams: 0, inflight: new Map(), logging: false });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (transport.sessionId === undefined) {
      // The initialize was refused (bad version, headers…): nothing to keep.
      await transport.close().catch(() => undefined);
      await server.close().catch(() => undefined);
    }
  }

  return {
    async handle(req, res, body, instanceId) {
      const header = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (sessionId === undefined) {
        if (req.method === 'POST' && isInitializeRequest(body)) return open(req, res, body, instanceId);
        return replyJsonRpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      }
      const session = sessions.get(sessionId);
      // A session of another instance is as unknown here as a made-up id.
      if (session === undefined || session.instanceId !== instanceId) {
        return replyJsonRpcError(res, 404, -32001, 'Session not found');
      }
      session.lastSeen = now();
      if (req.method === 'POST' && isNotificationOrRequest(body)) {
        if (body.method === 'logging/setLevel') session.logging = true;
        if (body.method === 'notifications/cancelled') {
          const requestId = (body.params as { requestId?: unknown } | undefined)?.requestId;
          if (typeof requestId === 'string' || typeof requestId === 'number') session.inflight.get(requestId)?.abort();
        }
        if (options.fastPath?.(req, res, instanceId, body, session)) return;
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
