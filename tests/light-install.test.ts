/**
 * `npm install @dynmcp/core` stays light: developers who embed the MCP core get no database driver
 * and nothing that compiles native code. The closure is computed the way an installer sees it: from
 * the manifests `pnpm pack` publishes for the workspace packages (`workspace:` ranges turned into
 * versions, `publishConfig` applied) and, for every other package, from the package.json files
 * installed under node_modules, found by Node's own lookup. Offline: nothing is fetched.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Database clients and drivers, including those knex and its peers would pull in. */
const DATABASE_DRIVERS = new Set([
  'knex',
  'etcd3',
  'mysql',
  'mysql2',
  'mariadb',
  'better-sqlite3',
  'sqlite3',
  '@libsql/client',
  'pg',
  'pg-native',
  'postgres',
  'tedious',
  'mssql',
  'oracledb',
  'mongodb',
  'redis',
  'ioredis',
]);

/** Scripts npm and pnpm run at install time; a package with one builds or downloads something. */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  publishConfig?: Record<string, unknown>;
  scripts?: Record<string, string>;
  gypfile?: boolean;
}

const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

/** Every workspace package by name, with its directory. */
function workspacePackages(): Map<string, { dir: string; manifest: Manifest }> {
  const found = new Map<string, { dir: string; manifest: Manifest }>();
  for (const group of ['packages', 'apps', 'examples']) {
    for (const name of readdirSync(join(root, group))) {
      const dir = join(root, group, name);
      if (!existsSync(join(dir, 'package.json'))) continue;
      const manifest = readManifest(dir);
      found.set(manifest.name, { dir, manifest });
    }
  }
  return found;
}

/**
 * The manifest `pnpm pack` writes into the tarball: `workspace:*` becomes the exact version,
 * `workspace:^`/`workspace:~` that version with the operator, `workspace:<range>` the range; fields
 * under `publishConfig` replace their top-level namesakes.
 */
function packedManifest(manifest: Manifest, workspace: Map<string, { manifest: Manifest }>): Manifest {
  const resolve = (deps: Record<string, string> | undefined) => {
    if (deps === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const [name, range] of Object.entries(deps)) {
      if (!range.startsWith('workspace:')) {
        out[name] = range;
        continue;
      }
      const version = workspace.get(name)?.manifest.version;
      assert.ok(version !== undefined, `${manifest.name} depends on ${name}, which is not in the workspace`);
      const spec = range.slice('workspace:'.length);
      out[name] = spec === '*' ? version : spec === '^' || spec === '~' ? `${spec}${version}` : spec;
    }
    return out;
  };
  return {
    ...manifest,
    ...(manifest.publishConfig ?? {}),
    dependencies: resolve(manifest.dependencies),
    optionalDependencies: resolve(manifest.optionalDependencies),
    peerDependencies: resolve(manifest.peerDependencies),
  };
}

/** Node's lookup: the nearest `node_modules/<name>` from `from` upwards, as its real directory. */
function locate(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (basename(dir) !== 'node_modules') {
      const candidate = join(dir, 'node_modules', name, 'package.json');
      if (existsSync(candidate)) return realpathSync(dirname(candidate));
    }
    if (dirname(dir) === dir) return undefined;
  }
}

interface InstalledPackage {
  name: string;
  version: string;
  dir: string;
  manifest: Manifest;
  /** How it is reached from the root, for the failure message. */
  path: string[];
}

/**
 * Everything installing `name` brings: dependencies, optional dependencies (an installer tries
 * them) and required peer dependencies (pnpm and npm install those too), transitively.
 */
function installClosure(name: string): InstalledPackage[] {
  const workspace = workspacePackages();
  const seen = new Map<string, InstalledPackage>();
  const start = workspace.get(name);
  assert.ok(start, `${name} is a workspace package`);
  const queue: InstalledPackage[] = [];
  const visit = (dir: string, manifest: Manifest, path: string[]) => {
    const key = `${manifest.name}@${manifest.version}`;
    if (seen.has(key)) return;
    const entry = { name: manifest.name, version: manifest.version, dir, manifest, path };
    seen.set(key, entry);
    queue.push(entry);
  };
  visit(start.dir, packedManifest(start.manifest, workspace), [name]);
  while (queue.length > 0) {
    const current = queue.shift()!;
    const { manifest } = current;
    const optionalPeer = (dep: string) => manifest.peerDependenciesMeta?.[dep]?.optional === true;
    const wanted = [
      ...Object.keys(manifest.dependencies ?? {}).map((dep) => ({ dep, required: true })),
      ...Object.keys(manifest.optionalDependencies ?? {}).map((dep) => ({ dep, required: false })),
      ...Object.keys(manifest.peerDependencies ?? {})
        .filter((dep) => !optionalPeer(dep))
        .map((dep) => ({ dep, required: true })),
    ];
    for (const { dep, required } of wanted) {
      const local = workspace.get(dep);
      if (local !== undefined) {
        visit(local.dir, packedManifest(local.manifest, workspace), [...current.path, dep]);
        continue;
      }
      const dir = locate(dep, current.dir);
      // An optional dependency for another platform is not installed here, and need not be.
      if (dir === undefined && !required) continue;
      assert.ok(dir, `${dep} (needed by ${current.name}) is installed; run pnpm install`);
      visit(dir, readManifest(dir), [...current.path, dep]);
    }
  }
  return [...seen.values()];
}

/** Why a package builds native code at install time, or `undefined`. */
function nativeBuild(pkg: InstalledPackage): string | undefined {
  if (pkg.manifest.gypfile === true) return 'gypfile';
  if (existsSync(join(pkg.dir, 'binding.gyp'))) return 'binding.gyp';
  const script = INSTALL_SCRIPTS.find((name) => pkg.manifest.scripts?.[name] !== undefined);
  return script === undefined ? undefined : `${script} script`;
}

test('installing @dynmcp/core brings no database driver and no native module', () => {
  const closure = installClosure('@dynmcp/core');
  const names = new Set(closure.map((pkg) => pkg.name));
  // The walk really followed the graph: core's own dependencies and a workspace hop are in it.
  for (const expected of ['@dynmcp/common', '@dynmcp/plugin', '@modelcontextprotocol/server', 'undici', 'ajv']) {
    assert.ok(names.has(expected), `${expected} is in the closure of @dynmcp/core`);
  }
  const problems: string[] = [];
  for (const pkg of closure) {
    const via = pkg.path.join(' → ');
    if (DATABASE_DRIVERS.has(pkg.name)) problems.push(`database driver ${pkg.name}: ${via}`);
    const native = nativeBuild(pkg);
    if (native !== undefined) problems.push(`native build (${native}) in ${pkg.name} (${relative(root, pkg.dir)}): ${via}`);
  }
  assert.deepEqual(problems, []);
});
