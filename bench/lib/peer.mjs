// PEER: @ivotoby/openapi-mcp-server, a real npm MCP server that turns an OpenAPI document into
// tools, fed the upstream's OpenAPI document. Its HTTP transport answers every POST with 202 and
// delivers the result on the session's GET stream, so a raw-POST load generator measures nothing
// there: it is driven with the official v1 client (several sessions, calls in flight on each).
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarise } from './loadgen.mjs';
import { freePort, spawnPinned, waitFor } from './proc.mjs';

export const PEER_PACKAGE = '@ivotoby/openapi-mcp-server';
export const PEER_VERSION = '1.16.1';

/** Starts the peer pinned to `core`, exposing the upstream's OpenAPI document as tools. */
export async function startPeer({ cacheDir, core, upstreamPort }) {
  const port = await freePort();
  const bin = join(cacheDir, 'node_modules', PEER_PACKAGE, 'bin/mcp-server.js');
  const proc = spawnPinned(
    core,
    process.execPath,
    [
      bin,
      '--transport', 'http',
      '--host', '127.0.0.1',
      '--port', String(port),
      '--api-base-url', `http://127.0.0.1:${upstreamPort}`,
      '--openapi-spec', `http://127.0.0.1:${upstreamPort}/openapi.json`,
      // Its default logs every message to stderr at error level; the gateway runs at log level
      // `error` too, so both are measured with their per-request logging off.
      '--verbose', 'false',
    ],
    { name: 'peer' },
  );
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      await res.arrayBuffer();
      return res.ok;
    },
    { timeoutMs: 30000, intervalMs: 20, what: 'peer /health', proc },
  );
  return { proc, pid: proc.pid, port, url: `http://127.0.0.1:${port}/mcp` };
}

/**
 * The peer keeps one map from JSON-RPC request id to session for all sessions, and every v1
 * client numbers its requests from 0: ids from different sessions would collide and answers go
 * to the wrong session. This makes a transport's outgoing request ids unique per session and maps
 * the answers back, without touching the client or the peer.
 */
function uniqueRequestIds(transport, prefix) {
  const send = transport.send.bind(transport);
  transport.send = (message, options) =>
    send('method' in message && 'id' in message ? { ...message, id: `${prefix}${message.id}` } : message, options);
  let handler;
  Object.defineProperty(transport, 'onmessage', {
    configurable: true,
    get: () =>
      handler &&
      ((message, extra) => {
        if ('id' in message && typeof message.id === 'string' && message.id.startsWith(prefix) && !('method' in message)) {
          message = { ...message, id: Number(message.id.slice(prefix.length)) };
        }
        handler(message, extra);
      }),
    set: (value) => {
      handler = value;
    },
  });
  return transport;
}

/** Loads the v1 client from the bench cache (the peer's own dependency). */
async function loadClient(cacheDir) {
  const base = join(cacheDir, 'node_modules/@modelcontextprotocol/sdk/dist/esm/client');
  const { Client } = await import(pathToFileURL(join(base, 'index.js')).href);
  const { StreamableHTTPClientTransport } = await import(pathToFileURL(join(base, 'streamableHttp.js')).href);
  return { Client, StreamableHTTPClientTransport };
}

/** Connects `count` sessions and finds the item tool's name (the peer derives it from operationId). */
export async function connectPeerSessions(cacheDir, peer, count) {
  const { Client, StreamableHTTPClientTransport } = await loadClient(cacheDir);
  const sessions = [];
  for (let i = 0; i < count; i += 1) {
    const client = new Client({ name: 'dynmcp-bench', version: '1.0.0' });
    const transport = uniqueRequestIds(new StreamableHTTPClientTransport(new URL(peer.url)), `s${i}-`);
    await client.connect(transport);
    sessions.push(client);
  }
  // The v1 client opens its GET stream after `notifications/initialized` without waiting for it;
  // results sent before it is open are lost, so give the streams a moment.
  await sleep(300);
  const { tools } = await sessions[0].listTools();
  const tool = tools.find((t) => /item/i.test(t.name))?.name ?? tools[0]?.name;
  if (!tool) throw new Error('the peer lists no tools');
  return { sessions, tool, toolCount: tools.length };
}

/**
 * Closed-loop load through the client: `inFlight` calls per session, each session issuing its next
 * call as soon as one returns. Same window rules as the raw load generator.
 */
export async function drivePeer({ sessions, tool, inFlight, warmupMs, durationMs, onWindow, timeoutMs = 10000 }) {
  const latencies = [];
  let measuring = false;
  let stopping = false;
  let measured = 0;
  let errors = 0;
  const errorSamples = [];
  let seq = 0;
  let windowStart = 0;
  let windowEnd = 0;

  async function loop(client) {
    while (!stopping) {
      const id = seq++ % 1000;
      const started = performance.now();
      try {
        const result = await client.callTool({ name: tool, arguments: { id } }, undefined, { timeout: timeoutMs });
        if (!measuring) continue;
        if (result.isError) {
          errors += 1;
          if (errorSamples.length < 3) errorSamples.push(JSON.stringify(result).slice(0, 300));
        } else {
          latencies.push(performance.now() - started);
          measured += 1;
        }
      } catch (error) {
        if (measuring) {
          errors += 1;
          if (errorSamples.length < 3) errorSamples.push(error.message);
        }
        if (!stopping) await sleep(10);
      }
    }
  }

  const loops = [];
  for (const client of sessions) for (let i = 0; i < inFlight; i += 1) loops.push(loop(client));
  await sleep(warmupMs);
  windowStart = performance.now();
  onWindow('start');
  measuring = true;
  await sleep(durationMs);
  windowEnd = performance.now();
  measuring = false;
  onWindow('end');
  stopping = true;
  await Promise.race([Promise.all(loops), sleep(timeoutMs)]);
  const seconds = (windowEnd - windowStart) / 1000;
  return { requests: measured, errors, seconds, rps: measured / seconds, latency: summarise(latencies), errorSamples };
}

/** Closes the client sessions. */
export async function closePeerSessions(sessions) {
  await Promise.all(sessions.map((client) => client.close().catch(() => undefined)));
}
