// The fixture upstream of the conformance run: an ordinary HTTP API whose answers the gateway's
// general features turn into the results the suite's fixture tools must give (see fixtures/tools.json
// and docs/conformance.md). Nothing here knows about MCP.
import { once } from 'node:events';
import { createServer } from 'node:http';

/** The suite's expected texts (conformance src/scenarios/server/tools.ts). */
export const TEXTS = {
  simple: 'This is a simple text response for testing.',
  embedded: 'This is an embedded resource content.',
  mixed: 'Multiple content types test:',
  error: 'This tool intentionally returns an error for testing',
};

// A 1×1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** 0.1 s of 8 kHz, 8-bit mono silence as a RIFF/WAVE file. */
function wav() {
  const samples = 800;
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24); // sample rate
  header.writeUInt32LE(8000, 28); // byte rate
  header.writeUInt16LE(1, 32); // block align
  header.writeUInt16LE(8, 34); // bits per sample
  header.write('data', 36);
  header.writeUInt32LE(samples, 40);
  return Buffer.concat([header, Buffer.alloc(samples, 0x80)]);
}
const WAV = wav();

/** A `multipart/mixed` body (RFC 2046 §5.1) of `parts`: `{ headers, body }`. */
function multipart(boundary, parts) {
  const chunks = [];
  for (const part of parts) {
    const head = Object.entries(part.headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n`), Buffer.from(part.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes one Server-Sent Event. */
function sse(res, event, data) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Streams `steps` as events ~50 ms apart, then the result event, as a long-running API would. */
async function stream(res, steps, result) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  for (const [index, [event, data]] of steps.entries()) {
    if (index > 0) await sleep(50);
    if (res.destroyed) return;
    sse(res, event, data);
  }
  sse(res, 'result', result);
  res.end();
}

/**
 * The gateway's admin API, for the one fixture that changes the configuration: an upstream is just
 * another admin client, and the gateway turns the change into `list_changed` notifications.
 */
let adminApi;

/** Appends a change counter to a tool's description through the admin API (GET, edit, PUT back). */
async function touchTool(id) {
  if (adminApi === undefined) throw new Error('admin API not configured');
  const url = `${adminApi.url}/admin/tds/${id}`;
  const headers = { authorization: `Bearer ${adminApi.key}`, 'content-type': 'application/json' };
  const current = await fetch(url, { headers });
  if (current.status !== 200) throw new Error(`GET ${id}: ${current.status}`);
  const tool = (await current.json()).data;
  adminApi.changes += 1;
  tool.description = `${tool.description.replace(/ \(changed \d+ times?\)$/, '')} (changed ${adminApi.changes} times)`;
  const put = await fetch(url, { method: 'PUT', headers, body: JSON.stringify(tool) });
  if (put.status !== 200) throw new Error(`PUT ${id}: ${put.status}`);
  return adminApi.changes;
}

const routes = {
  'GET /simple-text': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(TEXTS.simple);
  },
  'GET /image': (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png' });
    res.end(PNG);
  },
  'GET /audio': (_req, res) => {
    res.writeHead(200, { 'content-type': 'audio/wav' });
    res.end(WAV);
  },
  'GET /embedded-resource': (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(TEXTS.embedded);
  },
  'GET /mixed': (_req, res) => {
    const boundary = 'fixture-boundary-7d1f';
    res.writeHead(200, { 'content-type': `multipart/mixed; boundary="${boundary}"` });
    res.end(
      multipart(boundary, [
        { headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: TEXTS.mixed },
        { headers: { 'Content-Type': 'image/png' }, body: PNG },
        {
          headers: { 'Content-Type': 'application/json', 'Content-Location': 'test://mixed-content-resource' },
          body: JSON.stringify({ test: 'data', value: 123 }),
        },
      ]),
    );
  },
  'GET /error': (_req, res) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(TEXTS.error);
  },
  'GET /progress': (_req, res) =>
    stream(
      res,
      [
        ['progress', { progress: 0, total: 100 }],
        ['progress', { progress: 50, total: 100 }],
        ['progress', { progress: 100, total: 100 }],
      ],
      { status: 'done', steps: 3 },
    ),
  'GET /logging': (_req, res) =>
    stream(
      res,
      [
        ['log', { level: 'info', data: 'Tool execution started' }],
        ['log', { level: 'info', data: 'Tool processing data' }],
        ['log', { level: 'info', data: 'Tool execution completed' }],
      ],
      { status: 'done', messages: 3 },
    ),
  'POST /tool-change': async (_req, res) => {
    const changes = await touchTool('test_trigger_tool_change');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ changed: 'test_trigger_tool_change', changes }));
  },
  'POST /contacts': async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
  },
};

/**
 * Starts the fixture upstream on 127.0.0.1 and a free port. `useAdmin(url, key)` gives it the
 * gateway's admin API for the configuration-changing fixture.
 * @returns {Promise<{ url: string, useAdmin(url: string, key: string): void, close(): Promise<void> }>}
 */
export async function startFixtureUpstream() {
  const server = createServer((req, res) => {
    const route = routes[`${req.method} ${new URL(req.url ?? '/', 'http://upstream').pathname}`];
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such fixture');
      return;
    }
    Promise.resolve(route(req, res)).catch((error) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fixture failed: ${error.message}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    useAdmin(url, key) {
      adminApi = { url, key, changes: 0 };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
