/**
 * The layering rule of docs/architecture.md, enforced: a package imports only packages below it, never
 * another package's src/ or dist/, and @dynmcp/plugin stays light enough for plugin authors.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Test harnesses (real etcd, MariaDB): importable by any package's tests, by no product code. */
const TESTING = '@dynmcp/testing';

const LAYERS: Record<string, { dir: string; mayImport: string[] }> = {
  '@dynmcp/testing': { dir: 'packages/testing', mayImport: [] },
  '@dynmcp/plugin': { dir: 'packages/plugin', mayImport: [] },
  '@dynmcp/common': { dir: 'packages/common', mayImport: ['@dynmcp/plugin'] },
  '@dynmcp/core': { dir: 'packages/core', mayImport: ['@dynmcp/plugin', '@dynmcp/common'] },
  // The built-in datasources and their drivers: beside core, not below it, so core installs light.
  '@dynmcp/datasources': { dir: 'packages/datasources', mayImport: ['@dynmcp/plugin', '@dynmcp/common'] },
  // The web console: a browser app (apps/console/src), built into static files the server serves.
  '@dynmcp/console': { dir: 'apps/console', mayImport: [] },
  '@dynmcp/server': {
    dir: 'apps/server',
    mayImport: ['@dynmcp/plugin', '@dynmcp/common', '@dynmcp/core', '@dynmcp/datasources', '@dynmcp/console'],
  },
  // The command line is a client of the admin API and /mcp: it imports no gateway package, and its
  // tests run the server from its built binary rather than importing it.
  '@dynmcp/cli': { dir: 'apps/cli', mayImport: [] },
};

function sources(dir: string, found: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, found);
    else if (name.endsWith('.ts')) found.push(path);
  }
  return found;
}

const IMPORT = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((match) => (match[1] ?? match[2]) as string);
}

for (const [name, layer] of Object.entries(LAYERS)) {
  test(`${name} imports only the packages below it`, () => {
    const problems: string[] = [];
    for (const file of sources(join(root, layer.dir, 'src'))) {
      for (const specifier of importsOf(file)) {
        if (!specifier.startsWith('@dynmcp/')) continue;
        const target = specifier.split('/').slice(0, 2).join('/');
        const where = relative(root, file);
        const isTest = where.endsWith('.test.ts') || where.includes('/test-support/');
        if (specifier !== target) problems.push(`${where}: deep import "${specifier}"`);
        else if (target === TESTING) {
          if (!isTest) problems.push(`${where}: product code imports ${TESTING}`);
        }
        else if (!layer.mayImport.includes(target)) problems.push(`${where}: imports ${target}, which is not below ${name}`);
      }
    }
    assert.deepEqual(problems, []);
  });
}

test('@dynmcp/plugin has no runtime dependencies and imports only node built-ins', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'packages/plugin/package.json'), 'utf8'));
  assert.deepEqual(Object.keys(pkg.dependencies ?? {}), []);
  for (const file of sources(join(root, 'packages/plugin/src'))) {
    for (const specifier of importsOf(file)) {
      assert.ok(specifier.startsWith('.') || specifier.startsWith('node:'), `${relative(root, file)} imports ${specifier}`);
    }
  }
});

test('only the config module and the composition root read process.env; packages never log to console', () => {
  const problems: string[] = [];
  const mayReadEnv = ['packages/common/src/config/', 'apps/server/src/main.ts', 'apps/cli/src/bin.ts'];
  for (const layer of Object.values(LAYERS)) {
    for (const file of sources(join(root, layer.dir, 'src'))) {
      const where = relative(root, file);
      if (where.endsWith('.test.ts') || where.includes('/test-support/') || where.startsWith('packages/testing/')) continue;
      const text = readFileSync(file, 'utf8');
      if (/process\.env/.test(text) && !mayReadEnv.some((allowed) => where.startsWith(allowed))) {
        problems.push(`${where}: reads process.env`);
      }
      if (/\bconsole\.(log|error|warn|info|debug)\(/.test(text)) problems.push(`${where}: uses console`);
    }
  }
  assert.deepEqual(problems, []);
});
