/**
 * The fast paths answer plain tools/list and tools/call themselves; everything they answer must be
 * exactly what the SDK answers. A progress token (2026-07-28) or an empty `_meta` (2025 sessions)
 * routes the same request through the SDK, so the two answers can be compared. The gateway runs
 * behind a bare node:http server over real live definitions, the real http executor and a real
 * upstream on 127.0.0.1; the HTTP front (auth, body limits) is apps/server's and tested there.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLiveDefinitions, createSchemaCompiler, type LiveDefinitions } from '@dynmcp/common';
import { silentLogger, type DataSource, type StoredRecord, type ToolExecutor, type ToolResult } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { createHttpExecutor } from '../executor/index.js';
import { createMcpGateway, type McpGateway, type McpGatewayOptions } from './mcp-gateway.js';

/**
 * A store holding fixed records: its feed is one snapshot. The live definitions read it exactly as
 * they read the SQL and etcd stores' feeds; nothing here writes.
 */
function fixedDataSource(records: StoredRecord[]): DataSource {
  const refuse = () => Promise.reject(new Error('read-only test store'));
  return {
    name: 'fixed',
    open: () => Promise.resolve(),
    list: (kind) => Promise.resolve(records.filter((record) => record.kind === kind)),
    get: (kind, id) => Promise.resolve(records.find((record) => record.kind === kind && record.id === id)),
    put: refuse,
    delete: refuse,
    watch(handlers) {
      queueMicrotask(() => handlers.onEvent({ type: 'snapshot', revision: records.length, records }));
      return { close: () => Promise.resolve() };
    },
    health: () => ({ connected: true }),
    close: () => Promise.resolve(),
  };
}

/** A plugin's result the http executor never makes: its own `_meta`, keys in an unusual order. */
const metaResult: ToolResult & { _meta: Record<string, unknown> } = {
  isError: false,
  content: [{ type: 'text', text: 'x"}' }],
  _meta: { 'example.com/trace': 't-1' },
};
const metaExecutor: ToolExecutor = { kind: 'meta', execute: () => Promise.resolve({ result: metaResult }) };

let upstream: TestUpstream;
let definitions: LiveDefinitions;
let gateway: McpGateway;
/** The same definitions listed two tools per page. */
let paged: McpGateway;
let server: Server;
let url: string;
let pagedUrl: string;
let slowClosed = false;
const closers: Array<() => Promise<unknown>> = [];

before(async () => {
  upstream = await startUpstream((hit, res) => {
    if (hit.url.startsWith('/slow')) {
      res.on('close', () => (slowClosed = true));
      return; // never answers
    }
    if (hit.url.startsWith('/events')) {
      // An upstream that streams: a log event (the SDK sends it to a 2025-era client), then the result.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('event: log\ndata: {"level":"warning","data":{"step":1},"logger":"up"}\n\nevent: result\ndata: {"ok":true}\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ url: hit.url, n: 42 }));
  });
  closers.push(() => upstream.close());
  const tool = (id: string, name: string, path: string, extra: Record<string, unknown> = {}, ext_info = {}) => ({
    kind: 'tds',
    id,
    revision: 1,
    value: {
      id,
      name,
      description: `tool ${name}`,
      input_schema: { type: 'object', properties: { q: { type: 'string' } } },
      tds_ext_info: { domain: upstream.url, method: 'GET', path, ext_info },
      ...extra,
    },
  });
  const records: StoredRecord[] = [
    tool('a', 'alpha', '/a', { output_schema: { type: 'object' } }),
    tool('b', 'beta', '/b', { annotations: { readOnlyHint: true } }),
    tool('s', 'slow', '/slow', {}, { timeout_ms: 10_000 }),
    tool('m', 'meta', '/unused', { kind: 'meta' }),
    tool('e', 'events', '/events'),
    { kind: 'ids', id: 'fast', revision: 1, value: { id: 'fast', name: 'fast', tool_ids: ['a', 'b', 's', 'm', 'e'] } },
  ];
  definitions = createLiveDefinitions({ datasource: fixedDataSource(records), compiler: createSchemaCompiler(), logger: silentLogger });
  await definitions.start();
  closers.push(() => definitions.close());
  const http = createHttpExecutor({ defaultTimeoutMs: 10_000, maxResponseBytes: 1_000_000, env: {}, egress: { allow: ['127.0.0.1'] } });
  closers.push(() => http.close());
  const gatewayOptions: McpGatewayOptions = {
    definitions,
    executorFor: (kind) => (kind === 'http' ? http : kind === 'meta' ? metaExecutor : undefined),
    logger: silentLogger,
    serverInfo: { name: 'dynmcp-test', version: '1.0.0' },
    sessionIdleTimeoutMs: 60_000,
    maxSessions: 100,
    maxSessionsPerPrincipal: 0,
    principalLimits: { ratePerMinute: 0, concurrency: 0 },
    maxRequestBodySize: 1_000_000,
  };
  gateway = createMcpGateway(gatewayOptions);
  closers.push(() => gateway.close());
  paged = createMcpGateway({ ...gatewayOptions, toolsPageSize: 2 });
  closers.push(() => paged.close());
  // The part of apps/server's MCP front the gateway relies on: the body parsed, the view resolved.
  server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const view = definitions.instance('fast');
      assert.ok(view !== undefined);
      const target = req.url?.startsWith('/paged/') === true ? paged : gateway;
      return target.handle(req, res, view, body, { principal: undefined, address: '127.0.0.1' });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp/fast`;
  pagedUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/paged/mcp/fast`;
  closers.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
});
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : JSON.parse(text);
}

function post(method: string, params: Record<string, unknown>, viaSdk: boolean, signal?: AbortSignal, target = url, extraHeaders: Record<string, string> = {}) {
  const meta: Record<string, unknown> = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
  };
  if (viaSdk) meta.progressToken = 'p1';
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
  };
  if (typeof params.name === 'string') headers['mcp-name'] = params.name;
  Object.assign(headers, extraHeaders);
  return fetch(target, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: meta } }),
    signal,
  });
}

/** The same request answered by the fast path and by the SDK, as text: key order included. */
async function both(method: string, params: Record<string, unknown>, target = url, headers: Record<string, string> = {}) {
  const read = async (res: Response) => ({ status: res.status, type: res.headers.get('content-type'), text: await res.text() });
  const fast = await read(await post(method, params, false, undefined, target, headers));
  const sdk = await read(await post(method, params, true, undefined, target, headers));
  return { fast, sdk };
}

test('tools/list: the fast answer equals the SDK answer', async () => {
  const { fast, sdk } = await both('tools/list', {});
  assert.deepEqual(fast, sdk);
  const tools = (JSON.parse(fast.text) as { result: { tools: Array<{ name: string }> } }).result.tools;
  assert.deepEqual(tools.map((tool) => tool.name), ['alpha', 'beta', 'events', 'meta', 'slow']);
});

test('tools/list pages: each page of a listing longer than a page, cursor included, equals the SDK page', async () => {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const { fast, sdk } = await both('tools/list', cursor === undefined ? {} : { cursor }, pagedUrl);
    assert.deepEqual(fast, sdk, `page ${pages}`);
    const result = (JSON.parse(fast.text) as { result: { tools: Array<{ name: string }>; nextCursor?: string } }).result;
    names.push(...result.tools.map((tool) => tool.name));
    cursor = result.nextCursor;
    pages += 1;
  } while (cursor !== undefined);
  assert.equal(pages, 3);
  assert.deepEqual(names, ['alpha', 'beta', 'events', 'meta', 'slow']);
});

test('tools/call: success, structured content, invalid arguments, unknown tools and results with their own _meta equal the SDK answers', async () => {
  for (const params of [
    { name: 'alpha', arguments: { q: 'x' } },
    { name: 'beta', arguments: {} },
    { name: 'beta' },
    { name: 'alpha', arguments: { q: 1 } },
    { name: 'nope', arguments: {} },
  ]) {
    const { fast, sdk } = await both('tools/call', params);
    assert.deepEqual(fast, sdk, JSON.stringify(params));
  }
  // A plugin's result with its own _meta: the same answer, though not byte for byte (the SDK
  // re-encodes a result in its schema's key order; the http executor's results already are).
  // Its _meta keeps its entries and gains the server's identity; no key is written twice.
  const { fast, sdk } = await both('tools/call', { name: 'meta', arguments: {} });
  assert.deepEqual(JSON.parse(fast.text), JSON.parse(sdk.text));
  const meta = (JSON.parse(fast.text) as { result: { _meta: Record<string, unknown> } }).result._meta;
  assert.deepEqual(Object.keys(meta), ['example.com/trace', 'io.modelcontextprotocol/serverInfo']);
  assert.equal(fast.text.match(/"_meta"/g)?.length, 1);
});

test('anything unusual goes to the SDK: a header mismatch is answered with its error', async () => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'beta', _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
    }),
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32020);
});

test('closing the response stream cancels the upstream call', async () => {
  slowClosed = false;
  const abort = new AbortController();
  const pending = post('tools/call', { name: 'slow', arguments: {} }, false, abort.signal).catch(() => undefined);
  const deadline = Date.now() + 3000;
  while (!upstream.hits.some((hit) => hit.url.startsWith('/slow')) && Date.now() < deadline) await sleep(10);
  abort.abort();
  await pending;
  while (!slowClosed && Date.now() < deadline) await sleep(10);
  assert.ok(slowClosed, 'the upstream saw its request closed');
});

const SESSION_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };

/** Opens a 2025-era session as a client does: initialize, then notifications/initialized. */
async function openSession(): Promise<string> {
  const init = await fetch(url, {
    method: 'POST',
    headers: SESSION_HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
  await init.text();
  const sessionId = init.headers.get('mcp-session-id');
  assert.ok(sessionId !== null, 'initialize opened a session');
  const initialized = await fetch(url, {
    method: 'POST',
    headers: { ...SESSION_HEADERS, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  assert.equal(initialized.status, 202);
  return sessionId;
}

/** One POST of a 2025-era session, raw. */
function sessionPost(sessionId: string, body: Record<string, unknown>) {
  return sessionlessPost(body, { 'mcp-session-id': sessionId });
}

/** The plain 2025-era requests both fast paths answer, as [method, params]. */
const PLAIN_2025_CASES: Array<[string, Record<string, unknown> | undefined]> = [
  ['tools/list', undefined],
  ['tools/call', { name: 'alpha', arguments: { q: 'x' } }],
  ['tools/call', { name: 'beta' }],
  ['tools/call', { name: 'alpha', arguments: { q: 1 } }],
  ['tools/call', { name: 'nope', arguments: {} }],
  // The SDK sends the upstream's log event to a client that set no log level.
  ['tools/call', { name: 'events', arguments: {} }],
];

test("2025 sessions: fast answers equal the SDK transport's byte for byte (an empty _meta routes through the SDK)", async () => {
  const sessionId = await openSession();
  for (const [method, params] of PLAIN_2025_CASES) {
    const fast = await sessionPost(sessionId, { jsonrpc: '2.0', id: 9, method, ...(params === undefined ? {} : { params }) });
    const sdk = await sessionPost(sessionId, { jsonrpc: '2.0', id: 9, method, params: { ...(params ?? {}), _meta: {} } });
    assert.deepEqual(fast, sdk, `${method} ${JSON.stringify(params)}`);
    assert.equal(fast.type, 'text/event-stream');
  }
  assert.equal(gateway.sessionCount('fast'), 1);
});

/** Opens a session and starts a call of the slow tool in it; resolves once the upstream has it, with the test's deadline. */
async function slowCallInSession(id: string) {
  slowClosed = false;
  const sessionId = await openSession();
  const before = upstream.hits.filter((hit) => hit.url.startsWith('/slow')).length;
  const call = sessionPost(sessionId, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow', arguments: {} } });
  const deadline = Date.now() + 3000;
  while (upstream.hits.filter((hit) => hit.url.startsWith('/slow')).length === before && Date.now() < deadline) await sleep(10);
  return { sessionId, call, deadline };
}

test('2025 sessions: notifications/cancelled aborts a fast-path call upstream, and the call gets no answer', async () => {
  const { sessionId, call, deadline } = await slowCallInSession('slow-1');
  const cancelled = await sessionPost(sessionId, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1', reason: 'test' } });
  assert.equal(cancelled.status, 202);
  assert.equal((await call).text, '', 'a cancelled request gets no response (MCP basic/utilities/cancellation)');
  while (!slowClosed && Date.now() < deadline) await sleep(10);
  assert.ok(slowClosed, 'the upstream saw its request closed');
});

/** One session-less 2025-era POST, raw; `headers` replace the defaults (undefined drops one). */
async function sessionlessPost(body: Record<string, unknown>, headers: Record<string, string | undefined> = {}, signal?: AbortSignal) {
  const sent = Object.fromEntries(Object.entries({ ...SESSION_HEADERS, ...headers }).filter(([, value]) => value !== undefined)) as Record<string, string>;
  const res = await fetch(url, { method: 'POST', headers: sent, body: JSON.stringify(body), signal });
  return { status: res.status, type: res.headers.get('content-type'), session: res.headers.get('mcp-session-id'), text: await res.text() };
}

test("2025 session-less requests: fast answers equal the SDK's stateless leg byte for byte, log notifications included", async () => {
  // With the 2025 version header, and without any (plain curl).
  const sessions = gateway.sessionCount('fast');
  for (const version of ['2025-11-25', undefined]) {
    for (const [method, params] of PLAIN_2025_CASES) {
      const headers = { 'mcp-protocol-version': version };
      const fast = await sessionlessPost({ jsonrpc: '2.0', id: 'r-1', method, ...(params === undefined ? {} : { params }) }, headers);
      const sdk = await sessionlessPost({ jsonrpc: '2.0', id: 'r-1', method, params: { ...(params ?? {}), _meta: {} } }, headers);
      assert.deepEqual(fast, sdk, `${version} ${method} ${JSON.stringify(params)}`);
      assert.equal(fast.type, 'text/event-stream');
      assert.equal(fast.session, null);
    }
  }
  const events = await sessionlessPost({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'events' } });
  assert.match(events.text, /^event: message\ndata: \{"jsonrpc":"2.0","method":"notifications\/message","params":\{"level":"warning"/);
  assert.equal(gateway.sessionCount('fast'), sessions, 'no session was opened');
});

test('2025 session-less requests: closing the response stream cancels the upstream call', async () => {
  slowClosed = false;
  const before = upstream.hits.filter((hit) => hit.url.startsWith('/slow')).length;
  const abort = new AbortController();
  const pending = sessionlessPost({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'slow' } }, {}, abort.signal).catch(() => undefined);
  const deadline = Date.now() + 3000;
  while (upstream.hits.filter((hit) => hit.url.startsWith('/slow')).length === before && Date.now() < deadline) await sleep(10);
  abort.abort();
  await pending;
  while (!slowClosed && Date.now() < deadline) await sleep(10);
  assert.ok(slowClosed, 'the upstream saw its request closed');
});

/**
 * Headers the SDK's 2025 transport refuses before anything else (406 for an Accept without both
 * JSON and SSE, 415 for a Content-Type other than application/json, which the front still parses
 * when it names JSON); the 2026-07-28 leg asks only the latter.
 */
const REFUSED_2025_HEADERS: Array<Record<string, string>> = [
  { accept: 'application/json' },
  { accept: 'text/event-stream' },
  { accept: 'text/html' },
  { 'content-type': 'application/vnd.api+json' },
];

test("2025 sessions: a request the transport refuses for its Accept or Content-Type gets the transport's refusal on the fast path, and on an unknown session", async () => {
  const sessionId = await openSession();
  for (const headers of REFUSED_2025_HEADERS) {
    for (const [method, params] of PLAIN_2025_CASES) {
      const plain = { jsonrpc: '2.0', id: 9, method, ...(params === undefined ? {} : { params }) };
      const fast = await sessionlessPost(plain, { 'mcp-session-id': sessionId, ...headers });
      const sdk = await sessionlessPost({ ...plain, params: { ...(params ?? {}), _meta: {} } }, { 'mcp-session-id': sessionId, ...headers });
      const label = `${JSON.stringify(headers)} ${method} ${JSON.stringify(params)}`;
      assert.ok(sdk.status === 406 || sdk.status === 415, `${label}: the transport refused it (${sdk.status})`);
      assert.deepEqual(fast, sdk, label);
      // The transport looks at headers before the session: an unknown one is refused alike, not 404.
      assert.deepEqual(await sessionlessPost(plain, { 'mcp-session-id': 'no-such-session', ...headers }), sdk, `unknown session, ${label}`);
    }
  }
});

test('2025 sessions: a notifications/cancelled or logging/setLevel the transport refuses for its Accept has no effect', async () => {
  const { sessionId, call } = await slowCallInSession('slow-2');
  const cancel = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-2', reason: 'test' } };
  const refused = await sessionlessPost(cancel, { 'mcp-session-id': sessionId, accept: 'application/json' });
  assert.equal(refused.status, 406);
  await sleep(200);
  assert.equal(slowClosed, false, 'the refused cancellation left the call running');
  assert.equal((await sessionPost(sessionId, cancel)).status, 202);
  assert.equal((await call).text, '');

  // A log level the transport refused is no level: the upstream's warning still reaches the client.
  const setLevel = { jsonrpc: '2.0', id: 'level-1', method: 'logging/setLevel', params: { level: 'error' } };
  assert.equal((await sessionlessPost(setLevel, { 'mcp-session-id': sessionId, accept: 'text/event-stream' })).status, 406);
  const events = await sessionPost(sessionId, { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'events' } });
  assert.match(events.text, /"method":"notifications\/message","params":\{"level":"warning"/);
});

test('2026-07-28: a Content-Type the SDK handler refuses gets its 415 on the fast path too; Accept it does not ask about', async () => {
  for (const [method, params] of [
    ['tools/list', {}],
    ['tools/call', { name: 'alpha', arguments: { q: 'x' } }],
  ] as const) {
    for (const headers of REFUSED_2025_HEADERS) {
      const { fast, sdk } = await both(method, params, url, headers);
      const label = `${JSON.stringify(headers)} ${method}`;
      assert.equal(sdk.status, 'content-type' in headers ? 415 : 200, label);
      assert.deepEqual(fast, sdk, label);
    }
  }
});
