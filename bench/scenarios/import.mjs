// OpenAPI import: GitHub's REST description (@octokit/openapi, about 1,200 operations, 13 MB of
// JSON) sent to POST /admin/import/openapi of the built gateway on core 0. Measured per round, from
// the moment the request is sent: the dry run's answer; the real import's answer (mapping, the
// write of every tool and the instance, and the wait until this replica applied them); and until
// a 2026-07-28 tools/list, following nextCursor, shows every imported tool on the new instance.
// Each round imports into a new instance, so every round creates all its tools.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ADMIN_KEY, startGateway } from '../lib/gateway.mjs';
import { summarise } from '../lib/loadgen.mjs';
import { round } from '../lib/measure.mjs';
import { MODERN_VERSION } from '../lib/mcp-wire.mjs';
import { cpuSeconds, rssBytes } from '../lib/proc.mjs';
import { ensureCorpora } from '../../scripts/openapi-corpus.mjs';

const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'dynmcp-bench', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

async function postImport(gateway, body) {
  const res = await fetch(`${gateway.url}/admin/import/openapi`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(300_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`import → ${res.status} ${text.slice(0, 400)}`);
  return JSON.parse(text).data;
}

/** Every tool name of an instance, following nextCursor; the number of pages it took. */
async function listAll(gateway, instance) {
  const names = [];
  let cursor;
  let pages = 0;
  do {
    const res = await fetch(`${gateway.url}/mcp/${instance}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/list', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: pages + 1, method: 'tools/list', params: { ...(cursor ? { cursor } : {}), _meta: META } }),
    });
    const message = JSON.parse(await res.text());
    if (!message.result) return { names, pages, error: JSON.stringify(message).slice(0, 300) };
    names.push(...message.result.tools.map((tool) => tool.name));
    cursor = message.result.nextCursor;
    pages += 1;
  } while (cursor);
  return { names, pages };
}

const count = (value) => (Array.isArray(value) ? value.length : value);

/** Returns { figures: { github: { … } } }. */
export async function runImport(ctx) {
  const { root, profile, log, ours, upstream } = ctx;
  const { github } = ensureCorpora(['github']);
  const text = readFileSync(github, 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-import-'));
  try {
    const gateway = await startGateway({
      root,
      core: 0,
      sqlitePath: join(dir, 'import.sqlite'),
      // The benchmark measures how long the import takes, so the import's own time limit must not cut it.
      env: { DYNMCP_ADMIN_IMPORT_TIMEOUT_MS: '300000' },
    });
    ours.add(gateway.pid);
    const base = `http://127.0.0.1:${upstream.port}/api`;
    const dry = [];
    const real = [];
    const visible = [];
    // CPU seconds of the gateway (all its threads: the import worker's included) per request: on a
    // shared machine the wall-clock times move with other work, the CPU time much less.
    const dryCpu = [];
    const realCpu = [];
    let tools;
    let pages;
    let skipped;
    for (let i = 0; i < profile.importRounds; i += 1) {
      const instance = `github-${i}`;
      const body = (dryRun) => JSON.stringify({ document: text, instance_id: instance, base_url: base, dry_run: dryRun });
      log(`  round ${i + 1}/${profile.importRounds}: dry run`);
      let sent = performance.now();
      let cpu = cpuSeconds(gateway.pid);
      await postImport(gateway, body(true));
      dry.push(performance.now() - sent);
      dryCpu.push((cpuSeconds(gateway.pid) - cpu) * 1000);
      log(`  round ${i + 1}/${profile.importRounds}: import`);
      sent = performance.now();
      cpu = cpuSeconds(gateway.pid);
      const data = await postImport(gateway, body(false));
      real.push(performance.now() - sent);
      realCpu.push((cpuSeconds(gateway.pid) - cpu) * 1000);
      tools = count(data.created);
      skipped = data.skipped.length;
      for (;;) {
        const listed = await listAll(gateway, instance);
        if (listed.names.length >= tools) {
          visible.push(performance.now() - sent);
          pages = listed.pages;
          break;
        }
        if (performance.now() - sent > 300_000) throw new Error(`tools/list showed ${listed.names.length} of ${tools} tools after 300 s ${listed.error ?? ''}`);
      }
    }
    const stat = (values) => {
      const s = summarise(values);
      return { p50Ms: round(s.p50, 0), maxMs: round(s.max, 0) };
    };
    return {
      figures: {
        github: {
          bytes: Buffer.byteLength(text),
          rounds: profile.importRounds,
          tools,
          skipped,
          listPages: pages,
          dryRun: stat(dry),
          import: stat(real),
          // Wall-clock of each round in order: the first pays for a cold start.
          importRoundsMs: real.map((value) => round(value, 0)),
          dryRunCpu: stat(dryCpu),
          importCpu: stat(realCpu),
          visible: stat(visible),
          rssAfterMB: round(rssBytes(gateway.pid) / 2 ** 20, 0),
        },
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
