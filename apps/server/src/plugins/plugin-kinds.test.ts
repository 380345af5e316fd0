/**
 * Third-party auth providers and tool kinds, loaded from a path, take part in a running gateway:
 * the auth chain asks them in order, and a tool whose `kind` names a plugin executor runs there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectModern, TEST_AUTH } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-plugin-kinds-'));
const pluginFile = join(dir, 'team-plugins.mjs');
let gw: TestGateway;

before(async () => {
  // Plain JavaScript, as a published plugin would ship; no import of the gateway's internals.
  writeFileSync(
    pluginFile,
    `export default [
  {
    name: 'team-header', version: '1.0.0', apiVersion: 1, kind: 'auth',
    create: ({ options }) => ({
      name: 'team-header',
      authenticate({ headers }) {
        const team = headers['x-team'];
        if (team === undefined) return undefined;
        if (!options.teams.includes(team)) throw Object.assign(new Error('unknown team'), { name: 'GatewayError', code: 'UNAUTHORIZED' });
        return { id: 'team:' + team, admin: false, instances: [] };
      },
    }),
  },
  {
    name: 'impostor', version: '1.0.0', apiVersion: 1, kind: 'auth',
    create: () => ({
      name: 'impostor',
      authenticate({ headers }) {
        const id = headers['x-impostor'];
        return id === undefined ? undefined : { id, admin: true, instances: '*' };
      },
    }),
  },
  {
    name: 'echo-kind', version: '1.0.0', apiVersion: 1, kind: 'tool-executor',
    create: ({ options }) => ({
      kind: 'echo',
      async execute(tool, args) {
        return { result: { content: [{ type: 'text', text: options.prefix + tool.name + ':' + JSON.stringify(args) }] } };
      },
    }),
  },
];
`,
  );
  gw = await startTestGateway({
    plugins: [{ module: pluginFile, options: { teams: ['blue'], prefix: '>' } }],
    auth: { providers: ['api-key', 'team-header', 'impostor'], keys: [{ id: 'team-b', key: 'team-b-key-0002', instances: ['blue-tools'] }] },
  });
  const echo = {
    name: 'shout',
    kind: 'echo',
    input_schema: { type: 'object', properties: { word: { type: 'string' } }, required: ['word'] },
    tds_ext_info: { domain: 'unused.example', method: 'GET', path: '/' },
  };
  assert.equal((await gw.admin('PUT', '/admin/tds/shout', echo)).status, 200);
  const unknownKind = await gw.admin('PUT', '/admin/tds/x', { ...echo, name: 'x', kind: 'graphql' });
  assert.equal(unknownKind.status, 400);
  assert.match(unknownKind.body.error, /unknown kind "graphql"/);
  await gw.admin('PUT', '/admin/ids/blue-tools', { name: 'blue', tool_ids: ['shout'], allowed_principals: ['team:blue'] });
});
after(async () => {
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a tool of a plugin kind runs on the plugin executor (arguments validated first)', async () => {
  const { client } = await connectModern(`${gw.url}/mcp/blue-tools`, TEST_AUTH);
  try {
    const result = await client.callTool({ name: 'shout', arguments: { word: 'hi' } });
    assert.deepEqual(result.content, [{ type: 'text', text: '>shout:{"word":"hi"}' }]);
    const invalid = await client.callTool({ name: 'shout', arguments: {} });
    assert.equal(invalid.isError, true);
  } finally {
    await client.close();
  }
});

test('the auth chain asks the plugin provider after the API keys', async () => {
  const { client } = await connectModern(`${gw.url}/mcp/blue-tools`, { 'x-team': 'blue' });
  try {
    assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name), ['shout']);
  } finally {
    await client.close();
  }
  const rejected = await fetch(`${gw.url}/mcp/blue-tools`, {
    method: 'POST',
    headers: { 'x-team': 'red', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(rejected.status, 401);
  const admin = await fetch(`${gw.url}/admin/ids`, { headers: { 'x-team': 'blue' } });
  assert.equal(admin.status, 403, 'a team principal is not an admin');
});

test("a plugin provider cannot give its principals an API key's principal id, nor one of the gateway's own ids", async () => {
  const asAdmin = (id: string) => fetch(`${gw.url}/admin/ids`, { headers: { 'x-impostor': id } });
  assert.equal((await asAdmin('someone')).status, 200, 'the provider works for ids of its own');
  for (const taken of ['team-b', 'api-key:0123456789ab', 'anonymous@127.0.0.1']) {
    const refused = await asAdmin(taken);
    assert.equal(refused.status, 401, taken);
    assert.match(((await refused.json()) as { error: string }).error, /missing or invalid credentials/);
    const mcp = await fetch(`${gw.url}/mcp/blue-tools`, {
      method: 'POST',
      headers: { 'x-impostor': taken, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(mcp.status, 401, `${taken} on /mcp`);
  }
  const key = await fetch(`${gw.url}/mcp/blue-tools`, {
    method: 'POST',
    headers: { authorization: 'Bearer team-b-key-0002', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  assert.equal(key.status, 200, 'the key itself still gets in');
});
