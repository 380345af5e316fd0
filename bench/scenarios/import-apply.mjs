// Event-loop blocks while a replica applies a large change: two gateway replicas on one SQLite
// file, both on core 0; one `POST /admin/batch` to replica A puts `applyTools` new tools (distinct
// schemas the size of an imported REST API's: grouped path, query and body arguments, a nested
// output schema) and an instance serving them. While A writes and B applies the change from the
// store's feed, a probe on the bench's core sends `GET /healthz` to each replica back to back on
// one keep-alive connection: a round trip takes long when the replica's event loop was busy, and
// also when the replica (or the probe) merely waited for a core on a busy machine. The block figure
// therefore comes from inside each replica (import-apply-probe.cjs, preloaded): the longest stretch
// the main thread ran, in its own CPU time, between two turns of its event loop.
// Measured until B's tools/list on the new instance shows every tool, and 500 ms beyond (listeners,
// view and search-index rebuilds, garbage collection after the change).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, get } from 'node:http';
import { admin, instanceDef, startGateway } from '../lib/gateway.mjs';
import { summarise } from '../lib/loadgen.mjs';
import { round } from '../lib/measure.mjs';
import { MODERN_VERSION } from '../lib/mcp-wire.mjs';

const user = (i) => ({
  type: 'object',
  properties: {
    login: { type: 'string' },
    id: { type: 'integer' },
    node_id: { type: 'string' },
    avatar_url: { type: 'string', format: 'uri' },
    html_url: { type: 'string', format: 'uri' },
    type: { type: 'string', enum: ['User', 'Organization', 'Bot'] },
    site_admin: { type: 'boolean' },
    name: { type: ['string', 'null'], maxLength: 200 + i },
  },
  required: ['login', 'id', 'node_id', 'avatar_url', 'html_url', 'type', 'site_admin'],
});

/** Tool `i`: schemas unlike every other tool's (compiled once each), about the size of an imported operation's. */
export function applyTool(upstreamPort, i) {
  const label = { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' }, color: { type: 'string', pattern: '^[0-9a-f]{6}$' }, default: { type: 'boolean' } }, required: ['id', 'name'] };
  return {
    name: `op_${i}`,
    description: `Operation ${i}: lists, filters and updates the items of one repository (generated for the benchmark).`,
    input_schema: {
      type: 'object',
      properties: {
        path: { type: 'object', properties: { owner: { type: 'string' }, repo: { type: 'string' }, number: { type: 'integer', minimum: 1 } }, required: ['owner', 'repo', 'number'] },
        query: {
          type: 'object',
          properties: {
            state: { type: 'string', enum: ['open', 'closed', 'all'] },
            sort: { type: 'string', enum: ['created', 'updated', 'comments'] },
            direction: { type: 'string', enum: ['asc', 'desc'] },
            since: { type: 'string', format: 'date-time' },
            per_page: { type: 'integer', minimum: 1, maximum: 100 + (i % 7) },
            page: { type: 'integer', minimum: 1 },
          },
        },
        body: {
          type: 'object',
          properties: {
            title: { type: 'string', maxLength: 256 + i },
            body: { type: 'string' },
            labels: { type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'object', properties: { name: { type: 'string' } } }] } },
            assignees: { type: 'array', items: { type: 'string' }, maxItems: 10 },
            milestone: { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] },
          },
          required: ['title'],
        },
      },
      required: ['path'],
    },
    output_schema: {
      type: 'object',
      properties: {
        id: { type: 'integer' },
        number: { type: 'integer' },
        state: { type: 'string', enum: ['open', 'closed'] },
        title: { type: 'string' },
        body: { type: ['string', 'null'] },
        user: user(i),
        assignee: { anyOf: [{ type: 'null' }, user(i + 1)] },
        assignees: { type: 'array', items: user(i + 2) },
        labels: { type: 'array', items: label },
        comments: { type: 'integer', minimum: 0 },
        created_at: { type: 'string', format: 'date-time' },
        updated_at: { type: 'string', format: 'date-time' },
        closed_at: { type: ['string', 'null'], format: 'date-time' },
        reactions: { type: 'object', properties: Object.fromEntries(['+1', '-1', 'laugh', 'hooray', 'confused', 'heart', 'rocket', 'eyes'].map((k) => [k, { type: 'integer' }])) },
      },
      required: ['id', 'number', 'state', 'title', 'user', 'labels', 'comments', 'created_at', 'updated_at'],
    },
    tds_ext_info: { domain: `http://127.0.0.1:${upstreamPort}`, method: 'POST', path: `/repos/{owner}/{repo}/items/{number}/op${i}`, required_params: {} },
  };
}

const PROBE = fileURLToPath(new URL('./import-apply-probe.cjs', import.meta.url));

/** The stretches between event-loop turns a replica's probe logged from `since` (epoch ms) on, longest first. */
function stretches(file, since) {
  if (!existsSync(file)) return [];
  const found = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [at, ms] = line.split(' ').map(Number);
    if (at >= since) found.push({ atMs: at - since, ms });
  }
  return found.sort((x, y) => y.ms - x.ms);
}

/** Back-to-back GET /healthz on one connection until stopped; each round trip in ms. */
function probe(gateway) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const samples = [];
  let running = true;
  const once = () =>
    new Promise((resolve, reject) => {
      get(`${gateway.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.once('end', resolve);
      }).once('error', reject);
    });
  const done = (async () => {
    while (running) {
      const sent = performance.now();
      await once();
      samples.push(performance.now() - sent);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await done;
      agent.destroy();
    },
  };
}

/** How many tools a 2026-07-28 tools/list of the instance shows, following nextCursor (the default page size). */
async function listedCount(gateway, instance) {
  let cursor;
  let listed = 0;
  do {
    const res = await fetch(`${gateway.url}/mcp/${instance}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/list' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: {
          ...(cursor ? { cursor } : {}),
          _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN_VERSION, 'io.modelcontextprotocol/clientInfo': { name: 'dynmcp-bench', version: '1.0.0' }, 'io.modelcontextprotocol/clientCapabilities': {} },
        },
      }),
    });
    const message = JSON.parse(await res.text());
    if (!message.result) return listed;
    listed += message.result.tools.length;
    cursor = message.result.nextCursor;
  } while (cursor);
  return listed;
}

/** Returns { figures: { tools, idleRoundTripMs, writer: {…}, replica: {…}, appliedMs } }. */
export async function runApply(ctx) {
  const { root, profile, log, ours, upstream } = ctx;
  const count = profile.applyTools;
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-apply-'));
  try {
    const sqlitePath = join(dir, 'shared.sqlite');
    // The default tools/list page size: a client pages through the instance as it would.
    const env = {};
    const loopFile = (name) => join(dir, `loop-${name}.txt`);
    const withProbe = (name) => ({ ...env, NODE_OPTIONS: `--require ${PROBE}`, BENCH_LOOP_FILE: loopFile(name) });
    const a = await startGateway({ root, core: 0, name: 'replica A (writer)', sqlitePath, env: withProbe('a') });
    ours.add(a.pid);
    const b = await startGateway({ root, core: 0, name: 'replica B (applies)', sqlitePath, env: withProbe('b') });
    ours.add(b.pid);
    const operations = Array.from({ length: count }, (_, i) => ({ op: 'put', kind: 'tds', id: `apply.op_${i}`, value: applyTool(upstream.port, i) }));
    operations.push({ op: 'put', kind: 'ids', id: 'apply', value: instanceDef('apply', operations.map((o) => o.id)) });
    const body = { operations };

    // A small instance listed once on each replica: the first MCP request of a process sets up
    // the SDK's schemas (tens of milliseconds, once), which is no part of applying a change.
    await admin(a, 'POST', '/admin/batch', {
      operations: [
        { op: 'put', kind: 'tds', id: 'warm.op', value: applyTool(upstream.port, -1) },
        { op: 'put', kind: 'ids', id: 'warm', value: instanceDef('warm', ['warm.op']) },
      ],
    });
    for (const replica of [a, b]) {
      const deadline = performance.now() + 30_000;
      while ((await listedCount(replica, 'warm')) < 1) {
        if (performance.now() > deadline) throw new Error(`${replica.name} did not list the warm-up instance`);
        await sleep(20);
      }
    }

    // The idle round trip, for reference.
    const idle = probe(b);
    await sleep(300);
    await idle.stop();
    const idleRoundTrip = summarise(idle.samples).p50;

    log(`  ${count} tools in one batch on A, applied by B`);
    const probes = { writer: probe(a), replica: probe(b) };
    const since = Date.now();
    const sent = performance.now();
    await admin(a, 'POST', '/admin/batch', body);
    const written = performance.now() - sent;
    let appliedMs;
    for (;;) {
      if ((await listedCount(b, 'apply')) >= count) {
        appliedMs = performance.now() - sent;
        break;
      }
      if (performance.now() - sent > 300_000) throw new Error(`B did not list the ${count} tools within 300 s`);
      await sleep(20);
    }
    await sleep(500);
    await Promise.all(Object.values(probes).map((p) => p.stop()));
    const blocks = ({ samples }, name) => {
      const wall = summarise(samples);
      const found = stretches(loopFile(name), since);
      return {
        longestBlockMs: round(found[0]?.ms ?? 0, 1),
        blocksOver20Ms: found.filter((block) => block.ms > 20).length,
        // When the five longest came, from the write, to tell the change's own from others.
        longest: found.slice(0, 5).map((block) => `${round(block.ms, 1)} ms at +${block.atMs} ms`),
        probes: samples.length,
        longestRoundTripMs: round(wall.max, 1),
        p99RoundTripMs: round(wall.p99, 1),
      };
    };
    return {
      figures: {
        tools: count,
        idleRoundTripMs: round(idleRoundTrip, 2),
        writer: { ...blocks(probes.writer, 'a'), batchAnswerMs: round(written, 0) },
        replica: blocks(probes.replica, 'b'),
        appliedMs: round(appliedMs, 0),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
