// Outbound client micro-benchmark: what one upstream call costs the gateway's core with got (the
// gateway's alternative client), undici, node:http with a keep-alive agent and fetch, all against the same
// upstream with 50 requests in flight. Shows whether the client library caps the gateway.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { HAVE_TASKSET } from '../lib/proc.mjs';
import { workspaceGot } from '../lib/deps.mjs';

function runClient(root, args) {
  const script = join(root, 'bench/servers/client-micro.mjs');
  const [cmd, argv] = HAVE_TASKSET ? ['taskset', ['-c', '0', process.execPath, script, ...args]] : [process.execPath, [script, ...args]];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: 120000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(stderr.trim().split('\n').slice(-3).join(' ') || error.message));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
}

/** Returns { figures: { client: {...} }, unavailable }. */
export async function runClients(ctx) {
  const { root, profile, log, deps, upstream } = ctx;
  const got = workspaceGot(root);
  const clients = {
    undici: deps.undici.ok ? deps.undici.path : undefined,
    'node-http': '-',
    got: got.ok ? got.path : undefined,
    fetch: '-',
  };
  const figures = {};
  const unavailable = {};
  for (const [name, modulePath] of Object.entries(clients)) {
    if (modulePath === undefined) {
      unavailable[name] = name === 'got' ? got.reason : deps.undici.reason;
      continue;
    }
    log(`  client ${name}`);
    try {
      const result = await runClient(root, [name, String(upstream.port), '50', String(profile.warmupMs), String(profile.clientMs), modulePath]);
      figures[name] = {
        ...result,
        rps: Math.round(result.rps),
        perCpuSecond: Math.round(result.perCpuSecond),
        ...(name === 'got' ? { version: got.version } : {}),
      };
    } catch (error) {
      unavailable[name] = error.message;
    }
  }
  const base = figures.undici?.perCpuSecond;
  if (base) for (const figure of Object.values(figures)) figure.vsUndici = Math.round((figure.perCpuSecond / base) * 1000) / 1000;
  return { figures, unavailable };
}
