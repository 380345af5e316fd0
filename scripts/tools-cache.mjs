// The cache of tools and data the test command and the benchmark install from the npm registry
// once and reuse: $DYNMCP_TOOLS_CACHE, default ~/.cache/dynmcp/tools, outside the clone, so repeated
// runs (CI's included) do not download them again. Used by conformance/run.mjs (Node 22, the MCP
// conformance suite) and scripts/openapi-corpus.mjs (real API descriptions).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const toolsCacheDir = process.env.DYNMCP_TOOLS_CACHE || join(homedir(), '.cache', 'dynmcp', 'tools');

/**
 * Installs `spec` with npm into `dir` unless `marker` (a path inside it) exists. Installs into a
 * sibling folder first and renames it into place, so an interrupted install never looks complete.
 * `npmArgs` are added to npm's; npm's own output goes to stderr, so a caller's stdout stays its own.
 */
export function ensureInstalled(dir, spec, marker, { log = () => undefined, npmArgs = [] } = {}) {
  if (existsSync(join(dir, marker))) return;
  mkdirSync(dirname(dir), { recursive: true });
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  log(`installing ${spec} into ${dir} (once; reused afterwards)`);
  const npm = spawnSync('npm', ['install', '--prefix', staging, '--no-audit', '--no-fund', '--loglevel=error', ...npmArgs, spec], {
    stdio: ['ignore', 2, 2],
  });
  if (npm.status !== 0 || !existsSync(join(staging, marker))) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`npm install ${spec} failed (exit ${npm.status})`);
  }
  moveIntoPlace(staging, dir, marker);
}

/** Replaces `dir` with the finished `staging` folder; another run that finished first wins. */
function moveIntoPlace(staging, dir, marker) {
  rmSync(dir, { recursive: true, force: true });
  try {
    renameSync(staging, dir);
  } catch (error) {
    // Another run finished the same install first: use its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, marker))) throw error;
  }
}

/**
 * Unpacks the tarballs of the npm packages `specs` into `dir/<package name>/` unless `marker` (a
 * path inside `dir`) exists, for packages used as data: their dependencies are not installed and
 * none of their scripts run (`npm pack` of a registry spec only downloads the tarball). Staged and
 * renamed into place like {@link ensureInstalled}.
 */
export function ensureUnpacked(dir, specs, marker, { log = () => undefined } = {}) {
  if (existsSync(join(dir, marker))) return;
  mkdirSync(dirname(dir), { recursive: true });
  const staging = `${dir}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  log(`unpacking ${specs.join(', ')} into ${dir} (once; reused afterwards)`);
  const fail = (message) => {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(message);
  };
  const npm = spawnSync('npm', ['pack', '--json', '--loglevel=error', '--pack-destination', staging, ...specs], {
    stdio: ['ignore', 'pipe', 2],
    encoding: 'utf8',
  });
  if (npm.status !== 0) fail(`npm pack ${specs.join(' ')} failed (exit ${npm.status})`);
  for (const { name, filename } of JSON.parse(npm.stdout)) {
    const target = join(staging, name);
    mkdirSync(target, { recursive: true });
    // A tarball's single top folder is `package/` in most packages but not all: strip whichever it is.
    const tar = spawnSync('tar', ['-xzf', join(staging, filename), '-C', target, '--strip-components=1'], { stdio: ['ignore', 2, 2] });
    if (tar.status !== 0) fail(`unpacking ${filename} failed (exit ${tar.status})`);
    rmSync(join(staging, filename));
  }
  if (!existsSync(join(staging, marker))) fail(`${marker} is missing from ${specs.join(' ')}`);
  moveIntoPlace(staging, dir, marker);
}
