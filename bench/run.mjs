#!/usr/bin/env node
// DynMCP benchmark: `pnpm bench` (full, under 10 minutes) or `pnpm bench --quick` (about a minute).
// Loopback only. Needs `pnpm build` first. Prints Markdown tables and writes
// bench/results/<timestamp>.json. How each figure is measured: docs/performance.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ensureBenchDeps } from './lib/deps.mjs';
import { gatewayBin } from './lib/gateway.mjs';
import { judgeTargets, renderReport } from './lib/report.mjs';
import { HAVE_TASKSET, killAllSync, pinSelf, stopAll } from './lib/proc.mjs';
import { runClients } from './scenarios/clients.mjs';
import { runImport } from './scenarios/import.mjs';
import { runApply } from './scenarios/import-apply.mjs';
import { runLargeAnswers, runMemory } from './scenarios/memory.mjs';
import { runPropagation } from './scenarios/propagation.mjs';
import { runSearch } from './scenarios/search.mjs';
import { runWorkers } from './scenarios/workers.mjs';
import { runThroughput, startScript } from './scenarios/throughput.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const PROFILES = {
  full: {
    name: 'full',
    warmupMs: 2000,
    durationMs: 5000,
    clientMs: 5000,
    heapRequests: 100_000,
    heapChunks: 5,
    heapWarmup: 5000,
    // Per heap mode, and shrunk further when the run as a whole nears totalBudgetMs.
    heapBudgetMs: 60_000,
    idleSessions: 5000,
    bigTools: 10_000,
    bigInstances: 1000,
    // Starts of the gateway on the store of bigTools, the median's ready time reported.
    startRounds: 3,
    propagationWrites: 50,
    largeAnswerCalls: 20,
    largeAnswerRounds: 3,
    importRounds: 3,
    // Alternating c=50 windows of roundMs: RAW_PROXY with the gateway's tools/call rows (rounds of
    // each); the log-level gateways (processes per level, rounds per process).
    roundMs: 1000,
    callRounds: 10,
    logProcesses: 2,
    logRounds: 6,
    // Open-loop windows at 70% of the peak, RAW_PROXY's alternating with the gateway's, pooled per
    // side: long enough together that one pause does not make the p99.
    openLoopRounds: 3,
    openLoopMs: 4000,
    applyTools: 1000,
    searchQueries: 500,
    totalBudgetMs: 570_000,
  },
  quick: {
    name: 'quick',
    warmupMs: 300,
    durationMs: 1000,
    clientMs: 1000,
    heapRequests: 3000,
    heapChunks: 2,
    heapWarmup: 500,
    heapBudgetMs: 10_000,
    idleSessions: 300,
    bigTools: 1000,
    bigInstances: 100,
    startRounds: 1,
    propagationWrites: 5,
    largeAnswerCalls: 20,
    largeAnswerRounds: 1,
    importRounds: 1,
    roundMs: 1000,
    callRounds: 1,
    logProcesses: 1,
    logRounds: 1,
    openLoopRounds: 1,
    openLoopMs: 3000,
    applyTools: 1000,
    searchQueries: 100,
    totalBudgetMs: 120_000,
  },
};
const SECTIONS = ['throughput', 'clients', 'memory', 'large-answers', 'propagation', 'import', 'apply', 'search', 'workers'];

class UsageError extends Error {}

function usage() {
  return `usage: node bench/run.mjs [--quick] [--only ${SECTIONS.join(',')}] [--out FILE] [--set KEY=N]…

  --quick   about 75 s: 1 s windows, 3k requests per heap mode, 300 idle
            sessions, 1k tools, 1 burst of large answers, 5 propagation writes,
            1 import of GitHub's OpenAPI description (3 in a full run)
            (figures labelled as a quick run)
  --only    run only these sections (comma-separated)
  --out     write the JSON here instead of bench/results/<timestamp>.json
  --set     override one number of the profile, e.g. --set durationMs=10000 (repeatable);
            keys: ${Object.keys(PROFILES.full).filter((k) => k !== 'name').join(', ')}`;
}

function parseArgs(argv) {
  const args = { profile: PROFILES.full, only: SECTIONS, out: undefined };
  const sets = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') args.profile = PROFILES.quick;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg.includes('=') ? arg.slice(7) : argv[++i];
      args.only = (value ?? '').split(',').filter(Boolean);
      const unknown = args.only.filter((s) => !SECTIONS.includes(s));
      if (unknown.length || args.only.length === 0) throw new UsageError(`unknown section(s): ${unknown.join(', ') || '(none)'}\n${usage()}`);
    } else if (arg === '--out') args.out = argv[++i];
    else if (arg === '--set') {
      const [key, value] = (argv[++i] ?? '').split('=');
      if (!(key in PROFILES.full) || key === 'name' || !Number.isFinite(Number(value))) throw new UsageError(`--set needs a numeric profile key=value\n${usage()}`);
      sets.push([key, Number(value)]);
    }
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage()}\n`);
      process.exit(0);
    } else throw new UsageError(`unknown argument ${arg}\n${usage()}`);
  }
  if (sets.length > 0) {
    args.profile = { ...args.profile, ...Object.fromEntries(sets) };
    args.profile.name += ` (modified: ${sets.map(([k, v]) => `${k}=${v}`).join(', ')})`;
  }
  return args;
}

function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    cores: os.cpus().length,
    cpuModel: model,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    pinned: HAVE_TASKSET,
    loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

function gatewayInfo() {
  const version = JSON.parse(readFileSync(join(root, 'apps/server/package.json'), 'utf8')).version;
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    if (dirty) commit += ' (uncommitted changes)';
  } catch {
    // not a git checkout
  }
  return { version, commit };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const log = (line) => process.stderr.write(`${line}\n`);
  const bin = gatewayBin(root);
  if (bin.missing) {
    log(`bench: ${bin.missing}`);
    process.exit(2);
  }
  if (!HAVE_TASKSET) log('bench: taskset not found (util-linux): running unpinned; figures are less comparable');
  pinSelf(1);
  const started = performance.now();
  const results = {
    startedAt: new Date().toISOString(),
    profile: args.profile,
    machine: machineInfo(),
    gateway: gatewayInfo(),
    sections: {},
  };
  log(`bench: ${args.profile.name} run of ${args.only.join(', ')}`);
  const deps = ensureBenchDeps(log);
  const ours = new Set();
  const upstream = await startScript(root, 1, 'upstream.mjs');
  ours.add(upstream.pid);
  const ctx = { root, profile: args.profile, deps, log, ours, upstream, deadline: started + args.profile.totalBudgetMs };
  const runners = {
    throughput: runThroughput,
    clients: runClients,
    memory: runMemory,
    'large-answers': runLargeAnswers,
    propagation: runPropagation,
    import: runImport,
    apply: runApply,
    search: runSearch,
    workers: runWorkers,
  };
  for (const name of SECTIONS.filter((s) => args.only.includes(s))) {
    const t0 = performance.now();
    log(`bench: ${name}`);
    try {
      results.sections[name] = await runners[name](ctx);
    } catch (error) {
      log(`bench: ${name} failed: ${error.stack ?? error.message}`);
      results.sections[name] = { error: error.message };
    }
    results.sections[name].seconds = Math.round((performance.now() - t0) / 100) / 10;
    log(`bench: ${name} took ${results.sections[name].seconds} s`);
    await stopAll();
    // stopAll ended the upstream too; the next section needs it.
    if (name !== args.only.at(-1)) {
      ctx.upstream = await startScript(root, 1, 'upstream.mjs');
      ours.add(ctx.upstream.pid);
    }
  }
  await stopAll();
  results.durationS = (performance.now() - started) / 1000;
  results.machine.loadAverageAtEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);
  results.targets = judgeTargets(results);
  const report = renderReport(results);
  results.report = report;
  const out = args.out ?? join(root, 'bench/results', `${results.startedAt.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${report}\n\nJSON: ${relative(process.cwd(), out) || out}\n`);
  // Keep-alive sockets of clients whose servers are gone would otherwise hold the process open.
  process.exit(0);
}

process.on('SIGINT', () => {
  killAllSync();
  process.exit(130);
});
process.on('exit', killAllSync);
main().catch(async (error) => {
  process.stderr.write(`bench: ${error instanceof UsageError ? error.message : (error.stack ?? error.message)}\n`);
  await stopAll();
  process.exit(1);
});
