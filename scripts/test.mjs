#!/usr/bin/env node
// Runs every test of the workspace with node's own test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [path-substring ...]   (no argument: the whole suite)
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const roots = ['packages', 'apps', 'examples', 'tests'].map((dir) => join(root, dir));

function findTests(dir, found = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, found);
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

/** System commands the suite needs, with the Debian package that provides each. */
const SYSTEM_DEPS = [
  { command: 'curl', pkg: 'curl' },
  { command: 'etcd', pkg: 'etcd-server' },
  { command: 'etcdctl', pkg: 'etcd-client' },
  { command: 'mariadbd', pkg: 'mariadb-server' },
  { command: 'mariadb-install-db', pkg: 'mariadb-server' },
  { command: 'chromium', pkg: 'chromium' },
  { command: 'haproxy', pkg: 'haproxy' },
  { command: 'nginx', pkg: 'nginx' },
  { command: 'ip', pkg: 'iproute2' },
];

/** Installs missing system packages when it can (root with apt-get); otherwise fails naming them. */
function ensureSystemDeps() {
  // sbin too: mariadbd lives in /usr/sbin, outside some users' PATH.
  const has = (command) =>
    spawnSync('sh', ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${command}`], { stdio: 'ignore' }).status === 0;
  const missing = SYSTEM_DEPS.filter((dep) => !has(dep.command));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((dep) => dep.pkg))];
  const canInstall = process.getuid?.() === 0 && has('apt-get');
  if (canInstall) {
    console.error(`installing system packages: ${pkgs.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    spawnSync('apt-get', ['install', '-y', ...pkgs], { stdio: 'inherit', env });
  }
  const still = missing.filter((dep) => !has(dep.command));
  if (still.length > 0) {
    const names = [...new Set(still.map((dep) => dep.pkg))].join(' ');
    console.error(`the test suite needs these system packages: ${names}`);
    console.error(`install them (e.g. sudo apt-get install -y ${names}) and run again`);
    process.exit(1);
  }
}

ensureSystemDeps();
const filters = process.argv.slice(2);
const files = roots
  .flatMap((dir) => findTests(dir))
  .map((file) => relative(root, file))
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ') || '(all)'}`);
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=120000', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, DYNMCP_LOG_LEVEL: process.env.DYNMCP_LOG_LEVEL ?? 'silent' } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
