// Memory and start-up. The gateway runs with a bench-only preload (heap-preload.cjs) that answers
// SIGUSR2 with process.memoryUsage() after a forced full GC; RSS comes from /proc/<pid>/statm.
// - heap over N requests per mode: heapUsed after GC after a warm-up, then after every chunk;
// - idle 2025-era sessions: heap and RSS before and after opening them;
// - 10k tools in 1k instances: time from spawn to /readyz 200 on a prefilled SQLite file, then
//   heap and RSS; compared with the same gateway on a nearly empty store.
// - large answers (its own section, `--only large-answers`): peak RSS while N concurrent tools/call
//   each return the largest answer the executor accepts (executor.maxResponseBytes), plain and gzip.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fillerTool, heapStats, inParallel, instanceDef, itemTool, startGateway } from '../lib/gateway.mjs';
import { runLoad } from '../lib/loadgen.mjs';
import { round } from '../lib/measure.mjs';
import { MODERN_VERSION, checkToolResult, legacyToolsCall, modernToolsCall, openLegacySession } from '../lib/mcp-wire.mjs';
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
    // Start-up as an operator starts it (no bench preload, which alone adds tens of milliseconds),
    // `startRounds` times, the median reported; then once more with the preload, for the memory.
    log(`  start-up with ${bigTools} tools`);
    const readyMs = [];
    for (let i = 0; i < (profile.startRounds ?? 1); i++) {
      const plain = await startGateway({ root, core: 0, sqlitePath: bigDb, readyTimeoutMs: 300000 });
      ours.add(plain.pid);
      readyMs.push(round(plain.readyMs, 0));
      await plain.proc.stop();
    }
    const big = await startGateway({ root, core: 0, sqlitePath: bigDb, heapFile: join(dir, 'heap-big.json'), readyTimeoutMs: 300000 });
    ours.add(big.pid);
    const rssAtReady = mb(rssBytes(big.pid));
    figures.manyTools = {
      tools: bigTools,
      instances: bigInstances,
      prefillMs: round(fillMs, 0),
      readyMs: [...readyMs].sort((a, b) => a - b)[Math.floor((readyMs.length - 1) / 2)],
      readyRounds: readyMs,
      rssAtReadyMB: rssAtReady,
      ...snapshot(await heapStats(big), big.pid),
    };
    await big.proc.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { figures };
}

/** The answer size of the large-answers section: the gateway's default executor.maxResponseBytes, set explicitly. */
const LARGE_BYTES = 10 * 1024 * 1024;

/** A tool whose upstream answers LARGE_BYTES of JSON, as is or gzip-compressed on the wire. */
function largeTool(upstreamPort, encoding) {
  return {
    name: `large_${encoding}`,
    description: `Fetch a ${LARGE_BYTES}-byte JSON document (${encoding} on the wire)`,
    input_schema: { type: 'object', properties: {} },
    tds_ext_info: { domain: `http://127.0.0.1:${upstreamPort}`, method: 'GET', path: `/large/${encoding}/${LARGE_BYTES}`, required_params: {} },
  };
}

/** One 2026-07-28 tools/call over fetch; resolves with the length of the text the tool returned, or throws. */
async function callLarge(url, tool, id) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN_VERSION,
      'mcp-method': 'tools/call',
      'mcp-name': tool,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: {
        name: tool,
        arguments: {},
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
          'io.modelcontextprotocol/clientInfo': { name: 'dynmcp-bench', version: '1.0.0' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
  const raw = await res.text();
  const json = raw.startsWith('event:') || raw.startsWith('data:') ? raw.split('\n').find((line) => line.startsWith('data:'))?.slice(5) : raw;
  const message = JSON.parse(json ?? 'null');
  const result = message?.result;
  if (res.status !== 200 || result === undefined || result.isError) {
    throw new Error(`${tool}: ${res.status} ${JSON.stringify(message?.error ?? result?.content?.[0] ?? null).slice(0, 200)}`);
  }
  return result.content[0].text.length;
}

/** Samples the RSS of `pid` every `everyMs` until stopped; returns the peak seen. */
function rssSampler(pid, everyMs = 5) {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssBytes(pid));
    } catch {
      // the process is gone; the caller notices on its own
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes(pid));
      return peak;
    },
  };
}

/**
 * Peak memory of the gateway while `profile.largeAnswerCalls` tools/call (2026-07-28, stateless)
 * are in flight at once, each returning the largest answer the executor accepts: executor.maxResponseBytes
 * (10 MiB) of JSON, as text content. The gateway holds the upstream body, its text and the JSON-RPC
 * answer per call until the client has read it. Baseline: RSS and heap after a forced GC with the
 * tools warmed up; peak: the highest RSS sampled every 5 ms over `profile.largeAnswerRounds` bursts.
 * Returns { figures }.
 */
export async function runLargeAnswers(ctx) {
  const { root, profile, log, ours, upstream } = ctx;
  const calls = profile.largeAnswerCalls;
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-large-'));
  try {
    const db = join(dir, 'large.sqlite');
    const encodings = ['plain', 'gzip'];
    await prefillSqlite(root, db, {
      tools: encodings.map((encoding) => [`large_${encoding}`, largeTool(upstream.port, encoding)]),
      instances: [['large', instanceDef('large', encodings.map((encoding) => `large_${encoding}`), { stateless: true })]],
    });
    const gateway = await startGateway({
      root,
      core: 0,
      sqlitePath: db,
      heapFile: join(dir, 'heap-large.json'),
      env: { DYNMCP_MAX_RESPONSE_BYTES: String(LARGE_BYTES) },
    });
    ours.add(gateway.pid);
    const url = `${gateway.url}/mcp/large`;
    const figures = { answerBytes: LARGE_BYTES, concurrentCalls: calls, modes: [] };
    let id = 0;
    for (const encoding of encodings) {
      const tool = `large_${encoding}`;
      // Warm-up: one call, so code paths and pools exist before the baseline.
      await callLarge(url, tool, (id += 1));
      const base = snapshot(await heapStats(gateway), gateway.pid);
      let peak = 0;
      let slowestMs = 0;
      for (let burst = 1; burst <= profile.largeAnswerRounds; burst += 1) {
        const sampler = rssSampler(gateway.pid);
        const started = performance.now();
        const lengths = await Promise.all(Array.from({ length: calls }, () => callLarge(url, tool, (id += 1))));
        slowestMs = Math.max(slowestMs, performance.now() - started);
        peak = Math.max(peak, sampler.stop());
        const short = lengths.find((length) => length !== LARGE_BYTES);
        if (short !== undefined) throw new Error(`${tool}: a call returned ${short} characters instead of ${LARGE_BYTES}`);
        log(`    ${tool}: burst ${burst} of ${calls} calls, peak RSS so far ${mb(peak)} MB`);
      }
      const end = snapshot(await heapStats(gateway), gateway.pid);
      figures.modes.push({
        mode: encoding,
        rounds: profile.largeAnswerRounds,
        base,
        peakRssMB: mb(peak),
        growthMB: round(mb(peak) - base.rssMB, 1),
        perCallMB: round((mb(peak) - base.rssMB) / calls, 1),
        burstMs: round(slowestMs, 0),
        end,
      });
    }
    await gateway.proc.stop();
    return { figures };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
