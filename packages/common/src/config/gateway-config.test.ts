import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { configSchema } from './config-schema.js';
import type { ConfigOf } from './config-type.js';
import { loadConfig, type ENVIRONMENT_DEFAULTS, type GatewayConfig } from './load-config.js';

// Most checks here are types: the typecheck (which covers tests) fails when `GatewayConfig` drifts
// from the schema. The runtime tests check that the type tells the truth about loaded values.

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(): T | undefined => undefined;

/** The dotted path of every setting of a schema. */
type SchemaPaths<S, Prefix extends string = ''> = {
  [K in keyof S & string]: S[K] extends { default: unknown } ? `${Prefix}${K}` : SchemaPaths<S[K], `${Prefix}${K}.`>;
}[keyof S & string];

/** The dotted path of every value of a configuration object. */
type ValuePaths<C, Prefix extends string = ''> = {
  [K in keyof C & string]: C[K] extends string | number | boolean | null | readonly unknown[]
    ? `${Prefix}${K}`
    : ValuePaths<C[K], `${Prefix}${K}.`>;
}[keyof C & string];

test('GatewayConfig has a value for every setting of the schema, and no other', () => {
  expectType<Equal<ValuePaths<GatewayConfig>, SchemaPaths<typeof configSchema>>>();
  expectType<Equal<keyof typeof ENVIRONMENT_DEFAULTS extends SchemaPaths<typeof configSchema> ? true : false, true>>();

  // A configuration value missing a setting of its schema does not compile.
  type Tiny = ConfigOf<{ a: { format: 'nat'; default: 1 }; b: { format: StringConstructor; default: '' } }>;
  // @ts-expect-error `b` is missing
  const missing: Tiny = { a: 1 };
  assert.ok(missing);
});

test('each format gives its type: numbers, strings, lists, choices, nullable and by-environment settings', () => {
  expectType<Equal<GatewayConfig['server']['port'], number>>();
  expectType<Equal<GatewayConfig['mcp']['toolsPageSize'], number>>();
  expectType<Equal<GatewayConfig['server']['host'], string>>();
  expectType<Equal<GatewayConfig['server']['trustedProxies'], string[]>>();
  expectType<Equal<GatewayConfig['auth']['providers'], string[]>>();
  expectType<Equal<GatewayConfig['executor']['httpClient'], 'undici' | 'got'>>();
  expectType<Equal<GatewayConfig['log']['level'], 'error' | 'warn' | 'info' | 'debug' | 'silent'>>();
  expectType<Equal<GatewayConfig['admin']['maxAuthFailures'], number | null>>();
  expectType<Equal<GatewayConfig['executor']['toolEnvAllow'], string[]>>();
  expectType<Equal<GatewayConfig['executor']['egress'], { allow: string[]; deny: string[] }>>();
  expectType<Equal<GatewayConfig['auth']['keys'], Array<{ id: string; key: string; admin?: boolean; instances?: '*' | string[] }>>>();
  expectType<Equal<GatewayConfig['plugins'], Array<{ module: string; options?: Record<string, unknown> }>>>();
});

test('settings by environment are never null once loaded, whatever the environment', () => {
  const configDir = mkdtempSync(join(tmpdir(), 'dynmcp-config-'));
  after(() => rmSync(configDir, { recursive: true, force: true }));
  for (const env of ['development', 'production']) {
    const config = loadConfig({ env: { DYNMCP_ENV: env }, configDir });
    assert.ok(Array.isArray(config.executor.toolEnvAllow), env);
    assert.ok(Array.isArray(config.executor.egress.allow), env);
    // The deprecated settings stay null when not set, as their type says.
    assert.equal(config.admin.maxAuthFailures, null);
    assert.equal(config.admin.authFailureWindowMs, null);
  }
});
