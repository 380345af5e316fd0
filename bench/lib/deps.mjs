// Bench-only tools live in a cache folder outside the repository, installed on first use with
// npm (never added to the workspace): the peer MCP server and undici for the RAW_PROXY baseline
// and the client micro-benchmark. got comes from the workspace (the gateway's own copy).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PEER_PACKAGE, PEER_VERSION } from './peer.mjs';

export const UNDICI_VERSION = '7.30.2';

/** `$DYNMCP_BENCH_CACHE`, else `$XDG_CACHE_HOME/dynmcp/bench`, else `~/.cache/dynmcp/bench`. */
export function cacheDir() {
  if (process.env.DYNMCP_BENCH_CACHE) return process.env.DYNMCP_BENCH_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'dynmcp', 'bench');
}

function installedVersion(dir, name) {
  const file = join(dir, 'node_modules', name, 'package.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).version : undefined;
}

/**
 * Makes sure the cache holds the pinned versions; installs what is missing. Returns what is
 * usable and, for what is not, why (an install failure is reported, never fatal).
 */
export function ensureBenchDeps(log) {
  const dir = cacheDir();
  const wanted = { [PEER_PACKAGE]: PEER_VERSION, undici: UNDICI_VERSION };
  const missing = Object.entries(wanted).filter(([name, version]) => installedVersion(dir, name) !== version);
  let installError;
  if (missing.length > 0) {
    mkdirSync(dir, { recursive: true });
    const specs = Object.entries(wanted).map(([name, version]) => `${name}@${version}`);
    log(`installing ${specs.join(' ')} into ${dir} (once)`);
    try {
      execFileSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error', ...specs], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 300_000,
      });
    } catch (error) {
      installError = (error.stderr?.toString() || error.message).trim().split('\n').slice(-3).join(' ');
    }
  }
  const have = (name) => installedVersion(dir, name) === wanted[name];
  const why = (name) => `${name}@${wanted[name]} could not be installed into ${dir}${installError ? `: ${installError}` : ''}`;
  return {
    dir,
    peer: have(PEER_PACKAGE) ? { ok: true } : { ok: false, reason: why(PEER_PACKAGE) },
    undici: have('undici') ? { ok: true, path: join(dir, 'node_modules/undici/index.js') } : { ok: false, reason: why('undici') },
  };
}

/** got as the gateway's executor resolves it (packages/core's dependency). */
export function workspaceGot(root) {
  try {
    const require = createRequire(join(root, 'packages/core/package.json'));
    const path = require.resolve('got');
    const version = JSON.parse(readFileSync(join(path.slice(0, path.lastIndexOf('/node_modules/got/') + 18), 'package.json'), 'utf8')).version;
    return { ok: true, path, version };
  } catch (error) {
    return { ok: false, reason: `got not resolvable from packages/core: ${error.message}` };
  }
}
