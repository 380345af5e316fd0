/**
 * The example plugin as an operator would get it from npm: packed with `pnpm pack`, installed from
 * the tarball into a fresh directory, loaded by package name, serving a working instance.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectLegacy } from '../test-support/mcp-clients.js';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const KEY = 'example-plugin-admin-key';

let dir: string;
let defs: string;
let upstream: TestUpstream;
let gateway: GatewayProcess;
let url: string;

const tool = (name: string, description: string) => ({
  name,
  description,
  input_schema: { type: 'object', properties: { path: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } } },
  tds_ext_info: { domain: upstream.url, method: 'GET', path: '/users/{id}' },
});
const writeDef = (kind: 'tds' | 'ids', id: string, value: unknown) =>
  writeFileSync(join(defs, kind, `${id}.json`), JSON.stringify(value, null, 2));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-example-plugin-'));
  const packs = join(dir, 'packs');
  mkdirSync(packs);
  for (const pkg of ['packages/plugin', 'examples/dynmcp-plugin-file-store']) {
    await run('npx', ['--yes', 'pnpm@10', 'pack', '--pack-destination', packs], { cwd: join(repo, pkg) });
  }
  const tarballs = readdirSync(packs).map((file) => join(packs, file));
  assert.equal(tarballs.length, 2);
  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'operator-app', private: true }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], { cwd: app });

  upstream = await startUpstream();
  defs = join(app, 'defs');
  mkdirSync(join(defs, 'tds'), { recursive: true });
  mkdirSync(join(defs, 'ids'), { recursive: true });
  writeDef('tds', 'get_user', tool('get_user', 'Fetch a user'));
  writeDef('ids', 'demo', { name: 'Demo', tool_ids: ['get_user', 'later'] });

  gateway = startGatewayProcess(
    {
      DYNMCP_PORT: '0',
      DYNMCP_API_KEYS: KEY,
      DYNMCP_DATASOURCE: 'file-store',
      DYNMCP_PLUGINS: JSON.stringify([{ module: 'dynmcp-plugin-file-store', options: { dir: './defs', debounceMs: 50 } }]),
    },
    { cwd: app },
  );
  url = await gateway.url;
});
after(async () => {
  await gateway?.stop();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the plugin installed from its tarball serves an instance end to end, and follows file edits', async () => {
  assert.ok(gateway.lines.some((line) => line.message === 'plugin loaded' && line.plugin === 'file-store'));
  const { client } = await connectLegacy(`${url}/mcp/demo`, { authorization: `Bearer ${KEY}` });
  try {
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['get_user']);
    const result = await client.callTool({ name: 'get_user', arguments: { path: { id: 'ada' } } });
    assert.notEqual(result.isError, true);
    assert.equal(upstream.hits.at(-1)?.url, '/users/ada');

    writeDef('tds', 'later', tool('later_tool', 'Added as a file'));
    const deadline = Date.now() + 5000;
    let names: string[] = [];
    while (Date.now() < deadline) {
      names = (await client.listTools()).tools.map((t) => t.name);
      if (names.includes('later_tool')) break;
      await sleep(50);
    }
    assert.deepEqual(names, ['get_user', 'later_tool']);
  } finally {
    await client.close();
  }
});

test('admin writes are refused by the read-only store with a message saying what to do', async () => {
  const res = await fetch(`${url}/admin/tds/x`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(tool('x', 'x')),
  });
  assert.equal(res.status, 403);
  const body = (await res.json()) as { error: string; error_code: string };
  assert.equal(body.error_code, 'FORBIDDEN');
  assert.match(body.error, /read-only; edit the files/);
  const list = await fetch(`${url}/admin/ids`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(((await list.json()) as { data: unknown[] }).data.length, 1);
});
