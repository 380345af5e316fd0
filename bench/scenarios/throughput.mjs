// Throughput and latency: the baselines (DIRECT, RAW_JSON, RAW_PROXY), the gateway's tools/call
// (2026-07-28 stateless, 2025 session, 2025 session-less) and tools/list (10/50/500 tools), the
// tail at 70% of peak, gateways logging at warn and at info and with metrics off, the gateway with
// got end to end, and PEER. Servers under test run on core 0; the load generator
// (this process) and the upstream share core 1.
import { join } from 'node:path';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { admin, fillerTool, gatewaySupportsEnv, instanceDef, itemTool, startGateway } from '../lib/gateway.mjs';
import { httpRequest, summarise } from '../lib/loadgen.mjs';
import { cpuWindow, measureLoad, round as roundTo } from '../lib/measure.mjs';
import {
  check200,
  checkToolResult,
  checkToolsList,
  legacyToolsCall,
  modernToolsCall,
  modernToolsList,
  openLegacySession,
  sendOnce,
} from '../lib/mcp-wire.mjs';
import { closePeerSessions, connectPeerSessions, drivePeer, startPeer } from '../lib/peer.mjs';
import { prefillSqlite } from '../lib/prefill.mjs';
import { freePort, spawnPinned, waitFor } from '../lib/proc.mjs';

export const LIST_SIZES = [10, 50, 500];
const CALL_TOOLS = 10; // tools in the tools/call instances: a typical small API

/** Starts one of bench/servers/*.mjs pinned to `core`; resolves once it answers. */
export async function startScript(root, core, script, args = [], probePath = '/items/1', method = 'GET') {
  const port = await freePort();
  const proc = spawnPinned(core, process.execPath, [join(root, 'bench/servers', script), String(port), ...args], { name: script });
  await waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}${probePath}`, { method, body: method === 'POST' ? '{"id":1}' : undefined });
      await res.arrayBuffer();
      return res.status < 500;
    },
    { timeoutMs: 15000, intervalMs: 20, what: `${script} to answer`, proc },
  );
  return { proc, pid: proc.pid, port, core };
}

/** The definitions every throughput gateway holds (prefilled into its SQLite file). */
export function throughputDefinitions(upstreamPort) {
  const fillers = Array.from({ length: Math.max(...LIST_SIZES) }, (_, i) => `f${String(i).padStart(3, '0')}`);
  const tools = [['get_item', itemTool(upstreamPort)], ...fillers.map((id) => [id, fillerTool(upstreamPort, id)])];
  const callTools = ['get_item', ...fillers.slice(0, CALL_TOOLS - 1)];
  const instances = [
    ['call-modern', instanceDef('call-modern', callTools, { stateless: true })],
    ['call-session', instanceDef('call-session', callTools)],
    ...LIST_SIZES.map((n) => [`list-${n}`, instanceDef(`list-${n}`, fillers.slice(0, n), { stateless: true })]),
  ];
  return { tools, instances };
}

/** Share of its core a server must use at c=50 for its window to count as saturated. */
const SATURATED = 0.85;

/**
 * Of windows measured in alternating rounds: the fastest (highest req/CPU-s) among those in which
 * the server kept its core busy, with every round's figure in `rounds` and the median window's in
 * `median` (req/CPU-s) and `medianRps`. On a shared virtual machine the noise only ever adds cost (another tenant's work
 * slows a process down; nothing speeds it up), so a row's fastest window is its least disturbed
 * one, and the ratio of two rows' fastest windows moves far less from run to run than the ratio
 * of their medians (see docs/performance.md, "Windows").
 */
export function fastestWindow(windows) {
  const busy = windows.filter((w) => w.cpuShare >= SATURATED);
  const fastest = (busy.length > 0 ? busy : windows).reduce((a, b) => ((b.perCpuSecond ?? 0) > (a.perCpuSecond ?? 0) ? b : a));
  const sorted = [...windows].sort((a, b) => (a.perCpuSecond ?? 0) - (b.perCpuSecond ?? 0));
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return { ...fastest, rounds: windows.map((w) => w.perCpuSecond), median: median.perCpuSecond, medianRps: median.rps };
}

/**
 * One figure from several open-loop windows of the same load: requests, CPU and latency samples
 * added up (the p99 is the p99 of every answer, not a median of windows), with each window's
 * p99/p50 listed.
 */
export function pooledWindows(windows) {
  const samples = new Float64Array(windows.reduce((n, w) => n + w.samples.length, 0));
  let at = 0;
  for (const w of windows) {
    samples.set(w.samples, at);
    at += w.samples.length;
  }
  const sum = (pick) => windows.reduce((n, w) => n + pick(w), 0);
  const requests = sum((w) => w.requests);
  const cpuSeconds = sum((w) => w.cpuSeconds);
  const seconds = sum((w) => w.seconds);
  const latency = summarise(samples);
  return {
    connections: windows[0].connections,
    targetRps: windows[0].targetRps,
    requests,
    errors: sum((w) => w.errors),
    errorSamples: windows.flatMap((w) => w.errorSamples).slice(0, 3),
    seconds: roundTo(seconds, 3),
    rps: roundTo(requests / seconds, 0),
    perCpuSecond: cpuSeconds > 0 ? roundTo(requests / cpuSeconds, 0) : null,
    cpuSeconds: roundTo(cpuSeconds, 2),
    latencyMs: Object.fromEntries(Object.entries(latency).map(([k, v]) => [k, roundTo(v, 3)])),
    rounds: windows.map((w) => roundTo(w.latencyMs.p99 / w.latencyMs.p50, 1)),
    noise: windows.map((w) => w.noise),
  };
}

/** Checks one request of each kind before loading it: a wrong setup must not become a number. */
async function sanityCheck(gateway, requests) {
  const notes = {};
  for (const [name, { path, request, expectTools }] of Object.entries(requests)) {
    const { status, message, bytes } = await sendOnce(gateway.port, path, request(1, {}));
    if (status !== 200 || !message?.result) throw new Error(`${name}: ${status} ${JSON.stringify(message).slice(0, 300)}`);
    if (message.result.isError) throw new Error(`${name}: tool error ${JSON.stringify(message.result).slice(0, 300)}`);
    if (expectTools !== undefined) {
      notes[name] = { tools: message.result.tools.length, bytes, nextCursor: message.result.nextCursor !== undefined };
      if (message.result.tools.length !== expectTools) {
        notes[name].warning = `expected ${expectTools} tools in one tools/list answer, got ${message.result.tools.length}`;
      }
    } else notes[name] = { bytes };
  }
  return notes;
}

/**
 * Runs the section. `ctx`: { root, profile, deps, log, ours (Set of pids), upstream (on core 1) }.
 * Returns { figures, notes, unavailable }.
 */
export async function runThroughput(ctx) {
  const { root, profile, log, ours } = ctx;
  const figures = {};
  const notes = {};
  const unavailable = {};
  const window = { warmupMs: profile.warmupMs, durationMs: profile.durationMs };
  // Alternating rounds: `roundMs` windows (many short ones: this machine's speed swings within
  // seconds; see fastestWindow). The first round warms each process up fully; later ones reopen
  // connections and let the code paths reoptimise.
  const roundWindow = (round) => ({
    warmupMs: round === 0 ? window.warmupMs : Math.min(window.warmupMs, 500),
    durationMs: profile.roundMs ?? window.durationMs,
  });
  const measure = async (key, target, load, connectionCounts = [1, 50]) => {
    for (const connections of connectionCounts) {
      log(`  ${key} c=${connections}`);
      figures[key] ??= {};
      figures[key][`c${connections}`] = await measureLoad({ target, ours: [...ours], connections, ...window, ...load });
    }
  };
  const track = (server) => {
    ours.add(server.pid);
    return server;
  };

  const { upstream } = ctx;

  // DIRECT: a second upstream on the server core, loaded straight.
  {
    const direct = track(await startScript(root, 0, 'upstream.mjs'));
    const host = `127.0.0.1:${direct.port}`;
    await measure('DIRECT', direct, { request: (seq) => httpRequest('GET', `/items/${seq % 1000}`, { host }), check: check200 });
    await direct.proc.stop();
  }
  // RAW_JSON: node:http answering a small JSON body to a JSON-RPC POST. Its c=50 figure is
  // measured below, in rounds alternating with the gateway's tools/list of 10 tools.
  const rawJson = track(await startScript(root, 0, 'raw-json.mjs', [], '/', 'POST'));
  rawJson.kind = { request: modernToolsList({ port: rawJson.port, path: '/mcp/raw' }), check: check200 };
  await measure('RAW_JSON', rawJson, rawJson.kind, [1]);
  // RAW_PROXY: node:http + undici to the upstream, wrapped in a JSON-RPC result. Its c=50 figure
  // is measured below, in rounds alternating with the gateway's tools/call.
  let proxy;
  if (ctx.deps.undici.ok) {
    proxy = track(await startScript(root, 0, 'raw-proxy.mjs', [String(upstream.port), ctx.deps.undici.path], '/', 'POST'));
    proxy.kind = { request: modernToolsCall({ port: proxy.port, path: '/mcp/raw' }), check: checkToolResult };
    await measure('RAW_PROXY', proxy, proxy.kind, [1]);
  } else unavailable.RAW_PROXY = ctx.deps.undici.reason;

  // The gateway, prefilled with every definition this section uses.
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-bench-gw-'));
  const sqlitePath = join(dir, 'gateway.sqlite');
  await prefillSqlite(root, sqlitePath, throughputDefinitions(upstream.port));
  const gateway = track({ ...(await startGateway({ root, core: 0, sqlitePath })), core: 0 });
  const port = gateway.port;
  const kinds = {
    'GW tools/call 2026': { path: '/mcp/call-modern', request: modernToolsCall({ port, path: '/mcp/call-modern' }), check: checkToolResult },
    'GW tools/call 2025 session': {
      path: '/mcp/call-session',
      request: legacyToolsCall({ port, path: '/mcp/call-session' }),
      check: checkToolResult,
      setup: async () => ({ sessionId: await openLegacySession(`${gateway.url}/mcp/call-session`) }),
    },
    'GW tools/call 2025 stateless': { path: '/mcp/call-modern', request: legacyToolsCall({ port, path: '/mcp/call-modern' }), check: checkToolResult },
    ...Object.fromEntries(
      LIST_SIZES.map((n) => [
        `GW tools/list ${n}`,
        { path: `/mcp/list-${n}`, request: modernToolsList({ port, path: `/mcp/list-${n}` }), check: checkToolsList, expectTools: n },
      ]),
    ),
  };
  const sessionCheck = { ...kinds['GW tools/call 2025 session'] };
  const sid = await openLegacySession(`${gateway.url}${sessionCheck.path}`);
  notes.gatewayAnswers = await sanityCheck(gateway, {
    ...Object.fromEntries(Object.entries(kinds).filter(([k]) => !k.includes('session'))),
    'GW tools/call 2025 session': { ...sessionCheck, request: (seq) => sessionCheck.request(seq, { sessionId: sid }) },
  });
  // The ratio targets divide the gateway's tools/call by RAW_PROXY and its tools/list of 10 tools
  // by RAW_JSON: their c=50 windows alternate, `callRounds` rounds of each, and each row keeps its
  // fastest saturated window, so that a drift of the machine during the run (other virtual
  // machines on the host, which the noise column cannot see) falls on both sides of each ratio
  // rather than on one.
  const callKeys = ['GW tools/call 2026', 'GW tools/call 2025 session', 'GW tools/call 2025 stateless', 'GW tools/list 10'];
  for (const [key, kind] of Object.entries(kinds)) await measure(key, gateway, kind, callKeys.includes(key) ? [1] : [1, 50]);
  {
    const rows = [
      ...(proxy ? [['RAW_PROXY', proxy, proxy.kind]] : []),
      ['RAW_JSON', rawJson, rawJson.kind],
      ...callKeys.map((key) => [key, gateway, kinds[key]]),
    ];
    const windows = new Map(rows.map(([key]) => [key, []]));
    for (let round = 0; round < (profile.callRounds ?? 1); round++) {
      for (const [key, target, kind] of rows) {
        log(`  ${key} c=50, round ${round + 1}`);
        windows.get(key).push(await measureLoad({ target, ours: [...ours], connections: 50, ...roundWindow(round), ...kind }));
      }
    }
    for (const [key, measured] of windows) figures[key] = { ...figures[key], c50: fastestWindow(measured) };
  }
  await rawJson.proc.stop();

  // Tail latency at 70% of the peak measured above (open loop: latency counts from when each
  // request was due, so the gateway's queueing shows). RAW_PROXY runs the same load at 70% of its
  // own peak, in windows alternating with the gateway's (`openLoopRounds` of `openLoopMs` each,
  // pooled per side): on a shared virtual machine a process's cost per request can swing for a
  // second or more, which at 70% load queues requests in any server, so the bare proxy's tail in
  // the same rounds shows what the machine alone allows.
  {
    const sides = [
      ...(proxy ? [['RAW_PROXY @70%', proxy, proxy.kind, figures.RAW_PROXY.c50.medianRps]] : []),
      ['GW tools/call 2026 @70%', gateway, kinds['GW tools/call 2026'], figures['GW tools/call 2026'].c50.medianRps],
    ];
    const windows = new Map(sides.map(([key]) => [key, []]));
    for (let round = 0; round < (profile.openLoopRounds ?? 1); round++) {
      for (const [key, target, kind, peak] of sides) {
        const rate = Math.max(1, Math.round(peak * 0.7));
        log(`  ${key}: open loop at ${rate} rps (70% of ${peak}), round ${round + 1}`);
        const durationMs = profile.openLoopMs ?? window.durationMs;
        windows.get(key).push(await measureLoad({ target, ours: [...ours], connections: 50, rate, warmupMs: roundWindow(round).warmupMs, durationMs, keepSamples: true, ...kind }));
      }
    }
    for (const [key, measured] of windows) figures[key] = { open: pooledWindows(measured) };
  }
  if (proxy) await proxy.proc.stop();
  await gateway.proc.stop();

  // What the info-level log line of every tool call costs, and what counting (metrics) costs: the
  // same store and requests on gateways at `warn` (no line per call), at `info` (one line per
  // call) and at `warn` with metrics off, `logProcesses` of each, all running, measured at c=50
  // in alternating windows (`logRounds` per process). These gateways serve nothing but this call,
  // so each cost compares processes that have lived the same life. Two processes of the same build
  // differ by several percent, as much as either cost, so each row is its fastest saturated window
  // over its processes, and lists every window's figure. Lines go to the gateway's stdout, here
  // /dev/null.
  {
    const variants = [
      ['GW tools/call 2026 (log warn)', { DYNMCP_LOG_LEVEL: 'warn' }],
      ['GW tools/call 2026 (log info)', { DYNMCP_LOG_LEVEL: 'info' }],
    ];
    const offKey = 'GW tools/call 2026 (metrics off)';
    if (gatewaySupportsEnv(root, 'DYNMCP_METRICS_ENABLED')) variants.push([offKey, { DYNMCP_LOG_LEVEL: 'warn', DYNMCP_METRICS_ENABLED: 'false' }]);
    else unavailable[offKey] = 'this build has no DYNMCP_METRICS_ENABLED setting';
    const runs = [];
    for (let copy = 0; copy < (profile.logProcesses ?? 1); copy++) {
      for (const [key, env] of variants) {
        const variant = track({ ...(await startGateway({ root, core: 0, sqlitePath, env })), core: 0 });
        const kind = { path: '/mcp/call-modern', request: modernToolsCall({ port: variant.port, path: '/mcp/call-modern' }), check: checkToolResult };
        if (key === offKey) {
          // Without credentials, a gateway that counts answers 401 here: only 404 shows metrics are off.
          const scrape = await fetch(`${variant.url}/metrics`);
          await scrape.arrayBuffer();
          if (scrape.status !== 404) throw new Error(`${offKey}: GET /metrics answered ${scrape.status}, expected 404 with metrics off`);
        }
        notes[`${key} answers`] = await sanityCheck(variant, { [key]: kind });
        runs.push({ key, gateway: variant, kind, copy });
      }
    }
    // The info-level line in the same processes: gateways started at `warn` on a store of their
    // own, switched to `info` and back through the admin API's log level override, measured at each
    // level in every round (the order swapped every other round). Two processes of the same build
    // differ by as much as the line costs (up to 30% in some runs); a pair of windows of one process
    // does not carry that difference. Builds without `/admin/log-level` report the rows unavailable.
    const switchedKeys = { warn: 'GW tools/call 2026 (switched warn)', info: 'GW tools/call 2026 (switched info)' };
    const switched = [];
    if (existsSync(join(root, 'apps/server/dist/admin/admin-log-level.js'))) {
      const switchedPath = join(dir, 'switched.sqlite');
      await prefillSqlite(root, switchedPath, throughputDefinitions(upstream.port));
      for (let copy = 0; copy < (profile.logProcesses ?? 1); copy++) {
        const variant = track({ ...(await startGateway({ root, core: 0, sqlitePath: switchedPath, env: { DYNMCP_LOG_LEVEL: 'warn' } })), core: 0 });
        const kind = { path: '/mcp/call-modern', request: modernToolsCall({ port: variant.port, path: '/mcp/call-modern' }), check: checkToolResult };
        notes[`${switchedKeys.warn} answers`] = await sanityCheck(variant, { [switchedKeys.warn]: kind });
        switched.push({ gateway: variant, kind, copy });
      }
    } else for (const key of Object.values(switchedKeys)) unavailable[key] = 'this build has no /admin/log-level';
    /** Sets every switched gateway's level (one write, applied from their shared store) and waits until each runs at it. */
    const switchTo = async (level) => {
      if (level === 'info') await admin(switched[0].gateway, 'PUT', '/admin/log-level', { level: 'info', duration_seconds: 3600 });
      else await admin(switched[0].gateway, 'DELETE', '/admin/log-level');
      for (const { gateway } of switched) {
        await waitFor(async () => (await admin(gateway, 'GET', '/admin/log-level')).data.level === level, { timeoutMs: 10000, intervalMs: 20, what: `log level ${level}` });
      }
    };
    const windows = new Map();
    const measureRun = async (key, run, round, label = key) => {
      log(`  ${label} c=50, process ${run.copy + 1}, round ${round + 1}`);
      if (!windows.has(key)) windows.set(key, []);
      windows.get(key).push(await measureLoad({ target: run.gateway, ours: [...ours], connections: 50, ...roundWindow(round), ...run.kind }));
    };
    // A switched process's first windows at each level are warm-up (its code optimised for one
    // level, then for both): measured and left out, so every pair compares warm windows.
    for (const level of ['warn', 'info']) {
      if (switched.length === 0) break;
      await switchTo(level);
      for (const run of switched) {
        log(`  ${switchedKeys[level]} c=50, process ${run.copy + 1}, warm-up`);
        await measureLoad({ target: run.gateway, ours: [...ours], connections: 50, ...roundWindow(0), ...run.kind });
      }
    }
    for (let round = 0; round < (profile.logRounds ?? 1); round++) {
      for (const run of runs) await measureRun(run.key, run, round);
      if (switched.length === 0) continue;
      for (const level of round % 2 === 0 ? ['warn', 'info'] : ['info', 'warn']) {
        await switchTo(level);
        for (const run of switched) await measureRun(switchedKeys[level], run, round);
      }
    }
    if (switched.length > 0) await switchTo('warn');
    for (const [key, measured] of windows) figures[key] = { c50: fastestWindow(measured) };
    for (const run of [...runs, ...switched]) await run.gateway.proc.stop();
  }

  // The physical floor of the tools/list size target: node:http writing precomputed bodies as
  // large as the 10- and 500-tool answers.
  {
    const raw = track(await startScript(root, 0, 'raw-json.mjs', [], '/', 'POST'));
    for (const n of [LIST_SIZES[0], LIST_SIZES.at(-1)]) {
      const bytes = notes.gatewayAnswers[`GW tools/list ${n}`].bytes;
      const path = `/bytes/${bytes}`;
      await measure(`RAW_JSON sized ${n}`, raw, { request: modernToolsList({ port: raw.port, path }), check: check200 });
      figures[`RAW_JSON sized ${n}`].bytes = bytes;
    }
    await raw.proc.stop();
  }

  // got, the HTTP client the gateway can be switched to, end to end, where this build can select it.
  if (gatewaySupportsEnv(root, 'DYNMCP_HTTP_CLIENT')) {
    const gotGateway = track({ ...(await startGateway({ root, core: 0, sqlitePath, env: { DYNMCP_HTTP_CLIENT: 'got' } })), core: 0 });
    await measure('GW tools/call 2026 (got)', gotGateway, {
      request: modernToolsCall({ port: gotGateway.port, path: '/mcp/call-modern' }),
      check: checkToolResult,
    });
    await gotGateway.proc.stop();
  } else unavailable['GW tools/call 2026 (got)'] = 'this build has no DYNMCP_HTTP_CLIENT setting';
  rmSync(dir, { recursive: true, force: true });

  // PEER, driven with the official v1 client: c=1 is one session with one call in flight; c=50 is
  // 10 sessions with 5 calls in flight each.
  if (ctx.deps.peer.ok) {
    try {
      const peer = track({ ...(await startPeer({ cacheDir: ctx.deps.dir, core: 0, upstreamPort: upstream.port })), core: 0 });
      figures.PEER = {};
      for (const [connections, sessionsCount, inFlight] of [[1, 1, 1], [50, 10, 5]]) {
        log(`  PEER c=${connections} (${sessionsCount} sessions × ${inFlight} in flight)`);
        const { sessions, tool, toolCount } = await connectPeerSessions(ctx.deps.dir, peer, sessionsCount);
        notes.peer = { tool, toolCount };
        const cpu = cpuWindow(peer, [...ours]);
        const result = await drivePeer({ sessions, tool, inFlight, ...window, onWindow: cpu.onWindow });
        figures.PEER[`c${connections}`] = { connections, sessions: sessionsCount, inFlight, ...cpu.finish(result) };
        await closePeerSessions(sessions);
      }
      await peer.proc.stop();
    } catch (error) {
      unavailable.PEER = `the peer did not run: ${error.message}`;
    }
  } else unavailable.PEER = ctx.deps.peer.reason;

  return { figures, notes, unavailable };
}
