#!/usr/bin/env node
// Runs the official MCP conformance suite (@modelcontextprotocol/conformance) against a real gateway:
// the built `dynmcp-server` bin on an embedded SQLite store in a temporary folder, fixture tools served by
// fixture-upstream.mjs and defined through the admin API, one stateful and one stateless instance.
//
//   node conformance/run.mjs [run-name ...]      (after `pnpm build`; no name: every run)
//
// Runs: the 2025-11-25 suite against each instance and the 2026-07-28 requirement set, each with
// its baseline of expected failures (conformance/baseline/*.yml). Exits non-zero on an unexpected
// failure or on a baseline entry that passes now. Node 22 and the suite are installed once into
// $DYNMCP_TOOLS_CACHE (default ~/.cache/dynmcp/tools) and reused. docs/conformance.md explains it all.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled, toolsCacheDir } from '../scripts/tools-cache.mjs';
import { startFixtureUpstream } from './fixture-upstream.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const SUITE_VERSION = '0.2.0-alpha.12';
const NODE_MAJOR = 22;

/** The runs; `instance` is the fixture instance id, `args` the suite's selection. */
const RUNS = [
  {
    name: '2025-11-25-stateful',
    instance: 'conformance-stateful',
    args: ['--spec-version', '2025-11-25'],
  },
  {
    name: '2025-11-25-stateless',
    instance: 'conformance-stateless',
    args: ['--spec-version', '2025-11-25'],
  },
  {
    // A 2026-07-28 client is served statelessly whatever the instance's 2025-era mode; the stateful
    // instance also proves the router never sends modern requests into the session store.
    name: '2026-07-28',
    instance: 'conformance-stateful',
    args: ['--requirements', '2026-07-28'],
  },
];

const log = (message) => process.stderr.write(`conformance: ${message}\n`);

// ---------------------------------------------------------------------------------------------
// Tools: Node 22 and the suite, installed into the cache folder when missing.


/** A Node ≥ 22 binary: this one when it is, else `node-<platform>-<arch>@22` from the npm registry. */
function node22() {
  if (Number(process.versions.node.split('.')[0]) >= NODE_MAJOR) return process.execPath;
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(toolsCacheDir, `node${NODE_MAJOR}`);
  const binary = join('node_modules', pkg, 'bin', 'node');
  ensureInstalled(dir, `${pkg}@${NODE_MAJOR}`, binary, { log });
  return join(dir, binary);
}

function suite() {
  const dir = join(toolsCacheDir, `conformance-${SUITE_VERSION}`);
  const entry = join('node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  ensureInstalled(dir, `@modelcontextprotocol/conformance@${SUITE_VERSION}`, entry, { log });
  return join(dir, entry);
}

// ---------------------------------------------------------------------------------------------
// The gateway: the built bin on a temporary SQLite file, a free port, a random admin key.

function startGateway(workDir, adminKey) {
  const bin = join(root, 'apps', 'server', 'dist', 'bin.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first`);
  const logFile = join(workDir, 'gateway.log');
  const child = spawn(process.execPath, [bin], {
    cwd: workDir,
    env: {
      PATH: process.env.PATH ?? '',
      DYNMCP_CONFIG_DIR: join(root, 'config'),
      DYNMCP_ENV: 'production',
      DYNMCP_HOST: '127.0.0.1',
      DYNMCP_PORT: '0',
      DYNMCP_DATASOURCE: 'sqlite',
      DYNMCP_SQLITE_PATH: join(workDir, 'dynmcp.sqlite'),
      DYNMCP_API_KEYS: adminKey,
      DYNMCP_LOG_LEVEL: 'info',
      // The fixture upstream runs on loopback, which production's egress policy denies otherwise.
      DYNMCP_EGRESS_ALLOW: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = createWriteStream(logFile);
  child.stderr.pipe(out, { end: false });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const url = new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      out.write(chunk);
      buffer += chunk.toString();
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const parsed = JSON.parse(line);
          if (parsed.message === 'gateway listening') resolve(parsed.url);
        } catch {
          // Not a JSON log line; kept in the log file.
        }
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited (${code}) before listening; see ${logFile}`)));
    setTimeout(() => reject(new Error(`gateway did not log "gateway listening" within 30 s; see ${logFile}`)), 30_000).unref();
  });
  return {
    pid: child.pid,
    url,
    logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      out.end();
    },
  };
}

async function admin(base, adminKey, path, body) {
  const res = await fetch(`${base}${path}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`PUT ${path} answered ${res.status}: ${await res.text()}`);
}

/** Defines the fixture tools (their domain is the fixture upstream) and instances. */
async function defineFixtures(base, adminKey, upstreamUrl) {
  const fixture = (file) => readFileSync(join(here, 'fixtures', file), 'utf8').replaceAll('{{UPSTREAM}}', upstreamUrl);
  for (const tool of JSON.parse(fixture('tools.json'))) await admin(base, adminKey, `/admin/tds/${tool.id}`, tool);
  for (const instance of JSON.parse(fixture('instances.json'))) await admin(base, adminKey, `/admin/ids/${instance.id}`, instance);
}

// ---------------------------------------------------------------------------------------------
// One suite run and its summary.

/**
 * Runs the suite; resolves with its exit code. Its full output goes to `logFile`; the terminal
 * gets the suite's own summary and baseline verdict (everything from `=== SUMMARY ===` on).
 */
function runSuite(node, entry, run, url, outDir, logFile) {
  const baseline = join(here, 'baseline', `${run.name}.yml`);
  const args = [entry, 'server', '--url', url, ...run.args, '--expected-failures', baseline, '-o', outDir];
  return new Promise((resolve) => {
    const child = spawn(node, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    const log = createWriteStream(logFile);
    let summary = false;
    let pending = '';
    child.stdout.on('data', (chunk) => {
      log.write(chunk);
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('=== SUMMARY ===')) summary = true;
        if (summary) process.stdout.write(`${line}\n`);
      }
    });
    child.stderr.on('data', (chunk) => {
      log.write(chunk);
      process.stderr.write(chunk);
    });
    child.once('exit', (code, signal) => {
      if (summary && pending !== '') process.stdout.write(`${pending}\n`);
      log.end();
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** The scenarios a requirement set scores (its `server:` list), or `undefined` for other runs. */
function scoredScenarios(entry, run) {
  const index = run.args.indexOf('--requirements');
  if (index < 0) return undefined;
  const file = join(dirname(entry), '..', 'requirements', `${run.args[index + 1]}.yaml`);
  const scored = new Set();
  let inServer = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\S/.test(line)) inServer = line.startsWith('server:');
    const match = inServer ? /^\s+-\s+([\w./-]+)\s*(#.*)?$/.exec(line) : null;
    if (match) scored.add(match[1]);
  }
  return scored;
}

/**
 * Reads the suite's result folder (`<out>/server-<scenario>-<time>/checks.json`). A scenario fails,
 * as the suite's baseline check counts it, when one of its checks is a FAILURE or a WARNING.
 */
function countResults(outDir, scored) {
  const checks = { SUCCESS: 0, FAILURE: 0, WARNING: 0, SKIPPED: 0, INFO: 0 };
  const totals = { scenarios: 0, passed: 0, failing: [], unscoredFailing: [], checks };
  if (!existsSync(outDir)) return totals;
  for (const name of readdirSync(outDir).sort()) {
    const file = join(outDir, name, 'checks.json');
    if (!statSync(join(outDir, name)).isDirectory() || !existsSync(file)) continue;
    const checks = JSON.parse(readFileSync(file, 'utf8'));
    for (const check of checks) totals.checks[check.status] = (totals.checks[check.status] ?? 0) + 1;
    const scenario = name.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT.*$/, '');
    totals.scenarios += 1;
    const failing = checks.some((check) => check.status === 'FAILURE' || check.status === 'WARNING');
    if (!failing) totals.passed += 1;
    else if (scored === undefined || scored.has(scenario)) totals.failing.push(scenario);
    else totals.unscoredFailing.push(scenario);
  }
  return totals;
}

/** The entries of a baseline file with their reasons, for the summary. */
function baselineEntries(run) {
  const entries = [];
  for (const line of readFileSync(join(here, 'baseline', `${run.name}.yml`), 'utf8').split('\n')) {
    const match = /^\s+-\s+(\S+)\s*(?:#\s*(.*))?$/.exec(line);
    if (match) entries.push({ entry: match[1], reason: match[2] ?? '(no reason given)' });
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const wanted = process.argv.slice(2);
  const runs = wanted.length === 0 ? RUNS : RUNS.filter((run) => wanted.includes(run.name));
  if (runs.length === 0) throw new Error(`no run named ${wanted.join(', ')}; runs: ${RUNS.map((run) => run.name).join(', ')}`);
  const started = Date.now();
  const node = node22();
  const entry = suite();

  const workDir = mkdtempSync(join(tmpdir(), 'dynmcp-conformance-'));
  const adminKey = randomBytes(24).toString('base64url');
  const cleanups = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
  };
  const onSignal = (signal) => {
    log(`${signal}: stopping`);
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let failed = false;
  const summary = [];
  try {
    const upstream = await startFixtureUpstream();
    cleanups.push(() => upstream.close());
    const gateway = startGateway(workDir, adminKey);
    let keepWorkDir = false;
    cleanups.push(async () => {
      await gateway.stop();
      if (!keepWorkDir) rmSync(workDir, { recursive: true, force: true });
    });
    const base = await gateway.url;
    log(`gateway ${base} (pid ${gateway.pid}), fixture upstream ${upstream.url}`);
    upstream.useAdmin(base, adminKey);
    await defineFixtures(base, adminKey, upstream.url);

    for (const run of runs) {
      const outDir = join(workDir, 'results', run.name);
      mkdirSync(outDir, { recursive: true });
      log(`run ${run.name}: ${run.args.join(' ')} against /mcp/${run.instance}`);
      const runStarted = Date.now();
      const code = await runSuite(node, entry, run, `${base}/mcp/${run.instance}`, outDir, join(workDir, 'results', `${run.name}.log`));
      const totals = countResults(outDir, scoredScenarios(entry, run));
      summary.push({ run, code, totals, seconds: (Date.now() - runStarted) / 1000 });
      if (code !== 0) {
        failed = true;
        keepWorkDir = true;
      }
    }
    if (keepWorkDir) log(`results and gateway log kept in ${workDir}`);
  } catch (error) {
    failed = true;
    log(`error: ${error.message}`);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  log('summary');
  for (const { run, code, totals, seconds } of summary) {
    const { checks } = totals;
    log(
      `  ${run.name}: ${code === 0 ? 'ok' : 'FAILED (see the suite output above)'} in ${seconds.toFixed(1)} s; ` +
        `scenarios ${totals.passed}/${totals.scenarios} passed; checks ${checks.SUCCESS} passed, ${checks.FAILURE} failed, ` +
        `${checks.WARNING} warnings, ${checks.SKIPPED} skipped`,
    );
    if (totals.unscoredFailing.length > 0) log(`    failing but not scored by the requirement set: ${totals.unscoredFailing.join(', ')}`);
    const entries = baselineEntries(run);
    log(`    baseline (${entries.length} entries, conformance/baseline/${run.name}.yml):`);
    for (const { entry, reason } of entries) log(`      ${entry}: ${reason}`);
  }
  log(`${failed ? 'FAILED' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exitCode = failed ? 1 : 0;
}

await main();
