/** The docs stay true to the code: every setting and every error code is documented. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configSchema } from '../packages/common/src/config/config-schema.js';
import { ERROR_STATUS } from '../packages/plugin/src/errors.js';

const doc = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

test('docs/configuration.md lists every configuration key with its variable and default', () => {
  const text = doc('docs/configuration.md');
  const walk = (node: Record<string, any>, path: string[]) => {
    for (const [key, value] of Object.entries(node)) {
      if (value && typeof value === 'object' && 'doc' in value && 'default' in value) {
        const row = text.split('\n').find((line) => line.startsWith(`| \`${[...path, key].join('.')}\` |`));
        assert.ok(row, `${[...path, key].join('.')} is documented`);
        assert.ok(row.includes(`\`${value.env}\``), `${value.env} is named`);
        if (!value.sensitive) assert.ok(row.includes(`\`${JSON.stringify(value.default)}\``), `default of ${value.env}`);
      } else walk(value, [...path, key]);
    }
  };
  walk(configSchema, []);
});

test('docs/errors.md lists every error code with its HTTP status', () => {
  const text = doc('docs/errors.md');
  for (const [code, status] of Object.entries(ERROR_STATUS)) {
    assert.ok(text.includes(`| \`${code}\` | ${status} |`), `${code} (${status}) is documented`);
  }
});

test('config/example.json names every key and loads', async () => {
  const { loadConfig } = await import('../packages/common/src/config/load-config.js');
  const config = loadConfig({ env: { DYNMCP_ENV: 'example' }, configDir: new URL('../config', import.meta.url).pathname });
  assert.equal(config.env, 'example');
  assert.equal(config.server.host, '0.0.0.0');
  // Every setting but `env` (chosen by DYNMCP_ENV, which picks the file) and the deprecated ones.
  const example = JSON.parse(readFileSync(new URL('../config/example.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const missing: string[] = [];
  const walk = (node: Record<string, unknown>, path: string[]) => {
    for (const [key, value] of Object.entries(node)) {
      const entry = value as { default?: unknown; doc?: string };
      if (entry !== null && typeof entry === 'object' && 'default' in entry) {
        const name = [...path, key];
        const found = name.reduce<unknown>((at, part) => (at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[part] : undefined), example);
        if (found === undefined && name.join('.') !== 'env' && !/deprecated/i.test(entry.doc ?? '')) missing.push(name.join('.'));
      } else if (entry !== null && typeof entry === 'object') walk(entry as Record<string, unknown>, [...path, key]);
    }
  };
  walk(configSchema as unknown as Record<string, unknown>, []);
  assert.deepEqual(missing, [], 'settings missing from config/example.json');
});
