// Memory and start-up. The gateway runs with a bench-only preload (heap-preload.cjs) that answers
// SIGUSR2 with process.memoryUsage() after a forced full GC; RSS comes from /proc/<pid>/statm.
// - heap over N requests per mode: heapUsed after GC after a warm-up, then after every chunk;
// - idle 2025-era sessions: heap and RSS before and after opening them;
// - 10k tools in 1k instances: time from spawn to /readyz 200 on a prefilled SQLite file, then
//   heap and RSS; compared with the same gateway on a nearly empty store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fillerTool, heapStats, inParallel, instanceDef, itemTool, startGateway } from '../lib/gateway.mjs';
import { runLoad } from '../lib/loadgen.mjs';
import { round } from '../lib/measure.mjs';
import { checkToolResult, legacyToolsCall, modernToolsCall, openLegacySession } from '../lib/mcp-wire.mjs';
import { prefillSqlite } from '../lib/prefill.mjs';
import { rssBytes } from '../lib/proc.mjs';

const MB = 1024 * 1024;
const mb = (bytes) => round(bytes / MB, 1);

function snapshot(stats, pid) {
  return { heapUsedMB: mb(stats.heapUsed), heapTotalMB: mb(stats.heapTotal), externalMB: mb(stats.external), rssMB: mb(rssBytes(pid)) };
}

/** Heap after GC across `total` requests of one mode, in `chunks` equal steps after a warm-up. */
async function heapOverRequests(gateway, { mode, request, setup, total, chunks, warmup, budgetMs, log }) {
  const started = performance.now();
  const load = (count) => runLoad({ port: gateway.port, connections: 50, count, request, setup, check: checkToolResult });
  // Sessions (when the mode has them) are opened once, in the warm-up, and reused by every chunk.
  const states = [];
  const setupOnce = setup ? async (i) => (states[i] ??= await setup(i)) : undefined;
  const warm = await runLoad({ port: gateway.port, connections: 50, count: warmup, request, setup: setupOnce, check: checkToolResult });
  const base = snapshot(await heapStats(gateway), gateway.pid);
  const series = [{ requests: 0, ...base }];
  let done = 0;
  let errors = warm.errors;
  const step = Math.ceil(total / chunks);
  while (done < total) {
    if (performance.now() - started > budgetMs) break;
    const result = await runLoad({ port: gateway.port, connections: 50, count: Math.min(step, total - done), request, setup: setupOnce, check: checkToolResult });
    done += result.requests;
    errors += result.errors;
    series.push({ requests: done, ...snapshot(await heapStats(gateway), gateway.pid) });
    log(`    ${mode}: ${done} requests, heapUsed ${series.at(-1).heapUsedMB} MB`);
  }
  const deviations = series.map((point) => (point.heapUsedMB - base.heapUsedMB) / base.heapUsedMB);
  const maxDeviation = deviations.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0);
  return {
    mode,
    requests: done,
    requestedTotal: total,
    cutShort: done < total ? `time budget of ${budgetMs / 1000} s reached` : undefined,
    errors,
    base,
    end: series.at(-1),
    maxDeviationPct: round(maxDeviation * 100, 1),
    series,
  };
}

/** Returns { figures, notes }. */
export async function runMemory(ctx) {
  const { root, profile, log, ours, upstream } = ctx;
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-mem-'));
  const figures = {};
  try {
    // A small store: the tools/call instances only.
    const smallDb = join(dir, 'small.sqlite');
    await prefillSqlite(root, smallDb, {
      tools: [['get_item', itemTool(upstream.port)]],
      instances: [
        ['call-modern', instanceDef('call-modern', ['get_item'], { stateless: true })],
        ['call-session', instanceDef('call-session', ['get_item'])],
      ],
    });
    const gateway = await startGateway({ root, core: 0, sqlitePath: smallDb, heapFile: join(dir, 'heap-small.json') });
    ours.add(gateway.pid);
    figures.startEmpty = { readyMs: round(gateway.readyMs, 0), ...snapshot(await heapStats(gateway), gateway.pid) };
    const port = gateway.port;
    const modes = [
      ['2026 stateless', { request: modernToolsCall({ port, path: '/mcp/call-modern' }) }],
      [
        '2025 session',
        {
          request: legacyToolsCall({ port, path: '/mcp/call-session' }),
          setup: async () => ({ sessionId: await openLegacySession(`${gateway.url}/mcp/call-session`) }),
        },
      ],
      ['2025 stateless', { request: legacyToolsCall({ port, path: '/mcp/call-modern' }) }],
    ];
    figures.heap = [];
    for (const [index, [mode, load]] of modes.entries()) {
      // What is left of the run's time budget, less about 90 s for the rest of this section and
      // the propagation section, shared by the modes still to run.
      const left = (ctx.deadline - performance.now() - 90_000) / (modes.length - index);
      const budgetMs = Math.round(Math.min(profile.heapBudgetMs, Math.max(10_000, left)));
      log(`  heap over ${profile.heapRequests} requests (at most ${budgetMs / 1000} s): ${mode}`);
      figures.heap.push(
        await heapOverRequests(gateway, {
          mode,
          ...load,
          total: profile.heapRequests,
          chunks: profile.heapChunks,
          warmup: profile.heapWarmup,
          budgetMs,
          log,
        }),
      );
    }

    // Idle 2025-era sessions: initialize + initialized, no GET stream, nothing else.
    log(`  ${profile.idleSessions} idle sessions`);
    const before = snapshot(await heapStats(gateway), gateway.pid);
    const url = `${gateway.url}/mcp/call-session`;
    let failed = 0;
    let firstError;
    await inParallel(
      Array.from({ length: profile.idleSessions }, () => () =>
        openLegacySession(url).catch((error) => {
          failed += 1;
          firstError ??= error.message;
        }),
      ),
      16,
    );
    const after = snapshot(await heapStats(gateway), gateway.pid);
    const opened = profile.idleSessions - failed;
    figures.idleSessions = {
      sessions: opened,
      failed,
      firstError,
      before,
      after,
      heapPerSessionKB: opened > 0 ? round(((after.heapUsedMB - before.heapUsedMB) * 1024) / opened, 2) : null,
      rssPerSessionKB: opened > 0 ? round(((after.rssMB - before.rssMB) * 1024) / opened, 2) : null,
    };
    await gateway.proc.stop();

    // Many tools: prefilled store, then start-up time and memory.
    const { bigTools, bigInstances } = profile;
    log(`  prefilling ${bigTools} tools in ${bigInstances} instances`);
    const bigDb = join(dir, 'big.sqlite');
    const perInstance = Math.floor(bigTools / bigInstances);
    const fillStarted = performance.now();
    await prefillSqlite(root, bigDb, {
      tools: Array.from({ length: bigTools }, (_, i) => [`op_${i}`, fillerTool(upstream.port, `op_${i}`)]),
      instances: Array.from({ length: bigInstances }, (_, j) => [
        `big_${j}`,
        instanceDef(`big_${j}`, Array.from({ length: perInstance }, (_, k) => `op_${j * perInstance + k}`)),
      ]),
    });
    const fillMs = performance.now() - fillStarted;
    log(`  start-up with ${bigTools} tools`);
    const big = await startGateway({ root, core: 0, sqlitePath: bigDb, heapFile: join(dir, 'heap-big.json'), readyTimeoutMs: 300000 });
    ours.add(big.pid);
    const rssAtReady = mb(rssBytes(big.pid));
    figures.manyTools = {
      tools: bigTools,
      instances: bigInstances,
      prefillMs: round(fillMs, 0),
      readyMs: round(big.readyMs, 0),
      rssAtReadyMB: rssAtReady,
      ...snapshot(await heapStats(big), big.pid),
    };
    await big.proc.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { figures };
}
