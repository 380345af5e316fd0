// Definition change propagation: two gateway replicas on one shared store; an admin write on replica
// A changes a tool's description, and replica B is polled with tools/list (one request in flight,
// back to back) until the new description shows. Delay = first answer from B that shows it minus
// the moment the write was sent to A (so it includes A's admin write itself; the write's own
// latency is reported beside it). Resolution: one tools/list round trip on B.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { admin, instanceDef, itemTool, startGateway } from '../lib/gateway.mjs';
import { summarise } from '../lib/loadgen.mjs';
import { round } from '../lib/measure.mjs';
import { MODERN_VERSION } from '../lib/mcp-wire.mjs';
import { startEtcd, startMariaDb } from '../lib/stores.mjs';

const listBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/list',
  params: { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN_VERSION, 'io.modelcontextprotocol/clientInfo': { name: 'dynmcp-bench', version: '1.0.0' }, 'io.modelcontextprotocol/clientCapabilities': {} } },
});

async function listOn(gateway) {
  const res = await fetch(`${gateway.url}/mcp/prop`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/list' },
    body: listBody,
  });
  return { status: res.status, text: await res.text() };
}

/** Polls B until `marker` shows; resolves with the time it did and how many polls it took. */
async function pollUntil(gateway, marker, deadline) {
  let polls = 0;
  for (;;) {
    const { text } = await listOn(gateway);
    polls += 1;
    const now = performance.now();
    if (text.includes(marker)) return { at: now, polls };
    if (now > deadline) return { at: undefined, polls };
  }
}

async function measureStore(ctx, name, env) {
  const { root, profile, log, upstream, ours } = ctx;
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-prop-'));
  const replicas = [];
  try {
    const sqlitePath = join(dir, 'shared.sqlite');
    for (const replica of ['A', 'B']) {
      try {
        const gateway = await startGateway({ root, core: 0, name: `replica ${replica} (${name})`, sqlitePath, env, readyTimeoutMs: 30000 });
        ours.add(gateway.pid);
        replicas.push(gateway);
      } catch (error) {
        return { unavailable: `the gateway did not start with this store: ${error.message.split('\n')[0].slice(0, 400)}` };
      }
    }
    const [a, b] = replicas;
    const tool = itemTool(upstream.port, 'prop_tool', 'initial');
    await admin(a, 'PUT', '/admin/tds/prop_tool', tool);
    await admin(a, 'PUT', '/admin/ids/prop', instanceDef('prop', ['prop_tool'], { stateless: true }));
    const ready = await pollUntil(b, '"initial"', performance.now() + 30000);
    if (ready.at === undefined) return { unavailable: 'replica B never saw the first definition within 30 s' };

    const delays = [];
    const writes = [];
    const rtts = [];
    let missed = 0;
    log(`  ${name}: ${profile.propagationWrites} writes`);
    for (let i = 0; i < profile.propagationWrites; i += 1) {
      const marker = `rev-${i}-${Math.random().toString(36).slice(2, 8)}`;
      const sent = performance.now();
      const write = admin(a, 'PUT', '/admin/tds/prop_tool', { ...tool, description: marker }).then(() => performance.now() - sent);
      const seen = await pollUntil(b, marker, sent + 15000);
      writes.push(await write);
      if (seen.at === undefined) missed += 1;
      else {
        delays.push(seen.at - sent);
        rtts.push((seen.at - sent) / seen.polls);
      }
      // Spread the writes over the store's poll phase instead of locking onto it.
      await sleep(10 + Math.random() * 90);
    }
    const stats = summarise(delays);
    const writeStats = summarise(writes);
    return {
      writes: profile.propagationWrites,
      missed,
      p50Ms: round(stats.p50, 1),
      p99Ms: round(stats.p99, 1),
      maxMs: round(stats.max, 1),
      adminWriteP50Ms: round(writeStats.p50, 1),
      pollRoundTripMs: round(summarise(rtts).p50, 2),
    };
  } finally {
    for (const gateway of replicas) await gateway.proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Returns { figures: { sqlite, mysql, etcd } } with `{ unavailable }` for a store that could not run. */
export async function runPropagation(ctx) {
  const figures = {};
  // SQLite: both replicas on one file (the embedded default; not a target, shown for reference).
  figures.sqlite = await measureStore(ctx, 'sqlite (shared file)', {});

  const maria = await startMariaDb({ core: 1 });
  if (maria.unavailable) figures.mysql = { unavailable: maria.unavailable };
  else {
    try {
      figures.mysql = await measureStore(ctx, 'mysql (MariaDB)', { DYNMCP_DATASOURCE: 'mysql', DYNMCP_MYSQL_URL: maria.url });
    } finally {
      await maria.stop();
    }
  }

  const etcd = await startEtcd({ core: 1 });
  if (etcd.unavailable) figures.etcd = { unavailable: etcd.unavailable };
  else {
    try {
      figures.etcd = await measureStore(ctx, 'etcd', { DYNMCP_DATASOURCE: 'etcd', DYNMCP_ETCD_ENDPOINTS: etcd.endpoint, DYNMCP_ETCD_PREFIX: '/dynmcp-bench' });
    } finally {
      await etcd.stop();
    }
  }
  return { figures };
}
