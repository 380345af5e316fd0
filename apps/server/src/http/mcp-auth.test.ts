/**
 * The MCP front's instance access check over real live definitions on a SQLite store: before the
 * first load it answers 503 (no authentication asked, nothing known yet); afterwards it resolves
 * the instance's view once and hands that view on, or refuses an unknown instance with the same
 * 404 as one the caller may not use.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApiKeyAuthProvider, createLiveDefinitions, createSchemaCompiler, type LiveDefinitions } from '@dynmcp/common';
import { createSqlDataSource } from '@dynmcp/datasources';
import { silentLogger, type DataSource } from '@dynmcp/plugin';
import { createFailureLimiter } from './failure-limiter.js';
import { checkInstanceAccess, NOT_LOADED_MESSAGE, type InstanceAccessOptions } from './mcp-auth.js';

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-mcp-auth-'));
let store: DataSource;
let definitions: LiveDefinitions;
let options: InstanceAccessOptions;
const admin = { authorization: 'Bearer admin-key' };
const scoped = { authorization: 'Bearer scoped-key' };

before(async () => {
  store = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'db.sqlite'), pollIntervalMs: 50, logger: silentLogger });
  await store.open();
  await store.put('tds', 't', {
    id: 't',
    name: 'echo',
    input_schema: { type: 'object' },
    tds_ext_info: { domain: 'api.example.com', method: 'GET', path: '/' },
  });
  await store.put('ids', 'shop', { id: 'shop', name: 'shop', tool_ids: ['t'] });
  await store.put('ids', 'open', { id: 'open', name: 'open', tool_ids: ['t'], public: true });
  definitions = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: silentLogger });
  options = {
    providers: [createApiKeyAuthProvider({ adminKeys: ['admin-key'], keys: [{ id: 'scoped', key: 'scoped-key', instances: ['open'] }] })],
    definitions,
    failures: createFailureLimiter({ maxFailures: 0, windowMs: 60_000 }),
  };
});
after(async () => {
  await definitions.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('before the first load: 503 with Retry-After for anyone, credentials or not', async () => {
  for (const headers of [{}, admin]) {
    assert.deepEqual(await checkInstanceAccess(options, 'shop', headers, '127.0.0.1'), {
      allowed: false,
      status: 503,
      message: NOT_LOADED_MESSAGE,
      retryAfterSeconds: 1,
    });
  }
  assert.equal(NOT_LOADED_MESSAGE, 'Definitions not loaded yet; retry shortly');
});

test('once loaded: the view of the instance is handed on, or 401/404', async () => {
  await definitions.start();
  const allowed = await checkInstanceAccess(options, 'shop', admin, '127.0.0.1');
  assert.ok(allowed.allowed);
  assert.equal(allowed.view, definitions.instance('shop'), 'the live view itself, resolved once');
  assert.equal(allowed.principal?.admin, true);

  const open = await checkInstanceAccess(options, 'open', {}, '127.0.0.1');
  assert.ok(open.allowed);
  assert.equal(open.view, definitions.instance('open'));
  assert.equal(open.principal, undefined, 'a public instance asks for no credentials');

  // Without credentials, a known and an unknown instance read the same: 401.
  const known = await checkInstanceAccess(options, 'shop', {}, '127.0.0.1');
  assert.deepEqual(await checkInstanceAccess(options, 'nope', {}, '127.0.0.1'), known);
  assert.equal(known.allowed === false && known.status, 401);
  const unknown = await checkInstanceAccess(options, 'nope', admin, '127.0.0.1');
  assert.deepEqual(unknown, { allowed: false, status: 404, message: 'Unknown MCP instance "nope"' });
  const notAllowed = await checkInstanceAccess(options, 'shop', scoped, '127.0.0.1');
  assert.deepEqual(notAllowed, { allowed: false, status: 404, message: 'Unknown MCP instance "shop"' });
});
