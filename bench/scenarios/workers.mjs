// Workers (`server.workers`, node:cluster): the same store and the same 2026-07-28 tools/call at
// c=50 on a gateway of 1 worker and of 2 workers. The gateway is one process with 1 worker and a
// primary plus its workers with 2; CPU is counted over every process of the group. With 1 worker
// the gateway is pinned to core 0 as elsewhere; with 2 it may use cores 0 and 1, where the load
// generator and the upstream also run, so on a 2-core machine its rps shows how far a second
// worker gets with no free core, and req/CPU-s what the group pays per request.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../lib/gateway.mjs';
import { measureLoad } from '../lib/measure.mjs';
import { checkToolResult, modernToolsCall } from '../lib/mcp-wire.mjs';
import { prefillSqlite } from '../lib/prefill.mjs';
import { waitFor } from '../lib/proc.mjs';
import { throughputDefinitions } from './throughput.mjs';

export const WORKER_COUNTS = [1, 2];

/** `pid` and its children (a cluster primary's workers), from /proc. */
function groupPids(pid) {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...children];
  } catch {
    return [pid];
  }
}

/** `/readyz` on a connection of its own (the cluster hands each connection to the next worker). */
function readyOnFreshConnection(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
  });
}

export async function runWorkers(ctx) {
  const { root, profile, log, ours, upstream } = ctx;
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-workers-'));
  const sqlitePath = join(dir, 'gateway.sqlite');
  const figures = {};
  try {
    await prefillSqlite(root, sqlitePath, throughputDefinitions(upstream.port));
    for (const workers of WORKER_COUNTS) {
      const core = workers === 1 ? 0 : '0,1';
      const gateway = await startGateway({ root, core, sqlitePath, name: `gateway ${workers} worker(s)`, env: { DYNMCP_WORKERS: String(workers) } });
      const expected = workers === 1 ? 1 : workers + 1;
      // Every worker serving, not only the first: each of 2×workers connections answers ready.
      await waitFor(
        async () => {
          if (groupPids(gateway.pid).length !== expected) return false;
          for (let i = 0; i < 2 * workers; i += 1) if (!(await readyOnFreshConnection(gateway.port))) return false;
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 50, what: `${workers} worker(s) ready`, proc: gateway.proc },
      );
      const pids = groupPids(gateway.pid);
      for (const pid of pids) ours.add(pid);
      const target = { pid: gateway.pid, port: gateway.port, core: 0, pids: () => groupPids(gateway.pid) };
      log(`  ${workers} worker(s): tools/call 2026 c=50`);
      const figure = await measureLoad({
        target,
        ours: [...ours],
        connections: 50,
        warmupMs: profile.warmupMs,
        durationMs: profile.durationMs,
        request: modernToolsCall({ port: gateway.port, path: '/mcp/call-modern' }),
        check: checkToolResult,
      });
      figures[`${workers}`] = { ...figure, processes: pids.length };
      await gateway.proc.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { figures, cores: cpus().length };
}
