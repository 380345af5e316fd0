#!/usr/bin/env node
// Runs every test of the workspace with node's own test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [path-substring ...]   (no argument: the whole suite)
import { spawn } from 'node:child_process';
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
