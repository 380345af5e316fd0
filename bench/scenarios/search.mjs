// Search mode: an instance of `bigTools` tools (10k in a full run) with `tool_mode: "search"`,
// prefilled into the store, on the built gateway pinned to core 0. Measured: the first
// `search_tools` (it builds the instance's index), then `searchQueries` sequential searches of
// varied requests as 2026-07-28 tools/call POSTs over one keep-alive connection (round trip
// included: what a client waits for).
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ADMIN_KEY, startGateway } from '../lib/gateway.mjs';
import { summarise } from '../lib/loadgen.mjs';
import { round } from '../lib/measure.mjs';
import { MODERN_VERSION } from '../lib/mcp-wire.mjs';
import { prefillSqlite } from '../lib/prefill.mjs';

const RESOURCES = ['repository', 'issue', 'pull', 'user', 'team', 'release', 'branch', 'commit', 'webhook', 'secret', 'invoice', 'customer', 'order', 'payment', 'shipment', 'ticket', 'project', 'document', 'channel', 'message'];
const VERBS = ['list', 'get', 'create', 'update', 'delete', 'archive', 'search', 'export', 'approve', 'assign'];
const SCOPES = ['for an organization', 'for the authenticated user', 'of a workspace', 'in a region', 'of a project'];

/** A tool with a name and description built from the word lists, so the index holds varied text. */
function searchTool(upstreamPort, i) {
  const resource = RESOURCES[i % RESOURCES.length];
  const verb = VERBS[Math.floor(i / RESOURCES.length) % VERBS.length];
  const scope = SCOPES[Math.floor(i / (RESOURCES.length * VERBS.length)) % SCOPES.length];
  const name = `${resource}s_${verb}_${i}`;
  return [
    name,
    {
      name,
      title: `${verb} ${resource} ${scope}`,
      description: `${verb[0].toUpperCase()}${verb.slice(1)} a ${resource} ${scope}. Variant ${i}: answers a JSON object with the ${resource}'s fields.`,
      input_schema: {
        type: 'object',
        properties: { owner: { type: 'string' }, [`${resource}_id`]: { type: 'string' }, per_page: { type: 'integer' } },
        required: ['owner'],
      },
      tds_ext_info: { domain: `http://127.0.0.1:${upstreamPort}`, method: 'GET', path: `/search/${name}`, required_params: {} },
    },
  ];
}

const QUERIES = RESOURCES.flatMap((resource, i) => [`${VERBS[i % VERBS.length]} a ${resource}`, `${resource}s ${SCOPES[i % SCOPES.length]}`]);

const META = JSON.stringify({
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'dynmcp-bench', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
});

/** One search_tools call; resolves with its latency in ms, or throws on anything but a result with tools. */
function search(agent, port, id, query) {
  const body = `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"search_tools","arguments":${JSON.stringify({ query, limit: 10 })},"_meta":${META}}}`;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mcp/search',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': MODERN_VERSION,
          'mcp-method': 'tools/call',
          'mcp-name': 'search_tools',
          authorization: `Bearer ${ADMIN_KEY}`,
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const ms = performance.now() - started;
          const text = Buffer.concat(chunks).toString('utf8');
          const tools = JSON.parse(text).result?.structuredContent?.tools;
          if (res.statusCode !== 200 || !Array.isArray(tools) || tools.length === 0) reject(new Error(`search → ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve(ms);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Returns { figures: { tools, firstSearchMs, searchMs: { p50, p90, p99, … } } }. */
export async function runSearch(ctx) {
  const { root, profile, log, ours, upstream } = ctx;
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-search-'));
  try {
    const tools = Array.from({ length: profile.bigTools }, (_, i) => searchTool(upstream.port, i));
    log(`  prefilling ${tools.length} tools in one search-mode instance`);
    const db = join(dir, 'search.sqlite');
    await prefillSqlite(root, db, {
      tools,
      instances: [['search', { name: 'search', tool_ids: tools.map(([id]) => id), tool_mode: 'search' }]],
    });
    const gateway = await startGateway({ root, core: 0, sqlitePath: db, readyTimeoutMs: 300_000 });
    ours.add(gateway.pid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const firstSearchMs = await search(agent, gateway.port, 0, 'list repositories for an organization');
      const latencies = [];
      for (let i = 0; i < profile.searchQueries; i += 1) latencies.push(await search(agent, gateway.port, i + 1, QUERIES[i % QUERIES.length]));
      const searchMs = Object.fromEntries(Object.entries(summarise(latencies)).map(([key, value]) => [key, key === 'count' ? value : round(value, 3)]));
      log(`  first search ${round(firstSearchMs, 1)} ms (builds the index); then p50 ${searchMs.p50} ms, p99 ${searchMs.p99} ms`);
      return { figures: { tools: tools.length, firstSearchMs: round(firstSearchMs, 1), searchMs } };
    } finally {
      agent.destroy();
      await gateway.proc.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
