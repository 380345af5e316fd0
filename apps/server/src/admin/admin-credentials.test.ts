/**
 * Per-caller upstream credentials on a real gateway (SQLite), a real upstream on 127.0.0.1 that
 * records what it receives, and the official SDK clients of both eras: `${principal:NAME}` sends
 * the calling principal's stored value and nothing for a principal without one; `${claim:NAME}`
 * sends an allow-listed claim of the caller's verified token; values are encrypted at rest, never
 * listed, logged or counted, and a gateway that cannot decrypt them refuses to start.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCredentialCipher } from '@dynmcp/common';
import { createRecordingLogger } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectLegacy, connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

const KEY = randomBytes(32).toString('base64');
const ALICE = { authorization: 'Bearer alice-key-0001' };
const BOB = { authorization: 'Bearer bob-key-00002' };
const CAROL = { authorization: 'Bearer carol-key-0003' };
const SECRETS = { alice: 'ghp_alice_first_value_1', bob: 'ghp_bob_value_2', aliceRotated: 'ghp_alice_rotated_value_3' };
const claimsHeader = (claims: Record<string, unknown>) => ({ 'x-test-claims': JSON.stringify(claims) });

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-credentials-'));
const pluginFile = join(dir, 'claims-auth.mjs');
const recording = createRecordingLogger();
let upstream: TestUpstream;
let gw: TestGateway;

const overrides = (key: string) => ({
  credentials: { key },
  executor: { egress: { allow: ['127.0.0.1'] }, toolClaimsAllow: ['sub', 'email'] },
  auth: {
    providers: ['api-key', 'claims-test'],
    keys: [
      { id: 'alice', key: 'alice-key-0001', instances: '*' },
      { id: 'bob', key: 'bob-key-00002', instances: '*' },
      { id: 'carol', key: 'carol-key-0003', instances: '*' },
    ],
  },
  plugins: [{ module: pluginFile }],
});

const tool = (id: string, ext: Record<string, unknown>) => ({
  id,
  name: id,
  description: `tool ${id}`,
  input_schema: { type: 'object', properties: { q: { type: 'string' } } },
  tds_ext_info: { domain: upstream.url, method: 'GET', path: `/${id}`, ext_info: ext },
});

before(async () => {
  // A provider that trusts a header, as a stand-in for a verified token: its principal carries claims.
  writeFileSync(
    pluginFile,
    `export default {
  name: 'claims-test', version: '1.0.0', apiVersion: 5, kind: 'auth',
  create: () => ({
    name: 'claims-test',
    authenticate({ headers }) {
      const raw = headers['x-test-claims'];
      if (raw === undefined) return undefined;
      const claims = JSON.parse(raw);
      return { id: 'oidc:' + claims.sub, admin: false, instances: '*', claims };
    },
  }),
};
`,
  );
  upstream = await startUpstream();
  gw = await startTestGateway(overrides(KEY), { dataDir: join(dir, 'data'), logger: recording.logger });
  const gh = tool('gh', { headers: { Authorization: 'Bearer ${principal:github_token}' }, query: { token: '${principal:github_token}' } });
  const who = tool('who', { headers: { 'X-Sub': '${claim:sub}' }, query: { email: '${claim:email}' } });
  for (const definition of [gh, who]) assert.equal((await gw.admin('PUT', `/admin/tds/${definition.id}`, definition)).status, 200);
  assert.equal((await gw.admin('PUT', '/admin/ids/creds', { name: 'creds', tool_ids: ['gh', 'who'] })).status, 200);
  for (const [principal, value] of [['alice', SECRETS.alice], ['bob', SECRETS.bob]] as const) {
    const put = await gw.admin('PUT', `/admin/credentials/${principal}/github_token`, { value });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function callModern(headers: Record<string, string>, name: string) {
  const { client } = await connectModern(`${gw.url}/mcp/creds`, headers);
  try {
    return await client.callTool({ name, arguments: { q: 'x' } });
  } finally {
    await client.close();
  }
}

async function callLegacy(headers: Record<string, string>, name: string) {
  const { client } = await connectLegacy(`${gw.url}/mcp/creds`, headers);
  try {
    return await client.callTool({ name, arguments: { q: 'x' } });
  } finally {
    await client.close();
  }
}

const textOf = (result: Record<string, unknown>) => JSON.stringify(result['content']);

test('${principal:NAME} sends each principal its own value, on the fast path and in a 2025 session', async () => {
  upstream.hits.length = 0;
  const alice = await callModern(ALICE, 'gh');
  assert.notEqual(alice.isError, true, textOf(alice));
  const bob = await callLegacy(BOB, 'gh');
  assert.notEqual(bob.isError, true, textOf(bob));
  assert.equal(upstream.hits.length, 2);
  assert.equal(upstream.hits[0]?.headers.authorization, `Bearer ${SECRETS.alice}`);
  assert.equal(upstream.hits[0]?.query.get('token'), SECRETS.alice);
  assert.equal(upstream.hits[1]?.headers.authorization, `Bearer ${SECRETS.bob}`);
  // The configured query credential is taken out of what the model reads.
  assert.ok(!textOf(alice).includes(SECRETS.alice));
});

test('every route hands the caller to the executor: session-less 2025 calls, with and without _meta', async () => {
  // Without _meta a plain 2025 POST takes a fast path; with a progress token, the SDK's stateless leg.
  for (const meta of [undefined, { progressToken: 'p1' }]) {
    upstream.hits.length = 0;
    const response = await fetch(`${gw.url}/mcp/creds`, {
      method: 'POST',
      headers: { ...BOB, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'gh', arguments: { q: 'x' }, ...(meta && { _meta: meta }) } }),
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.doesNotMatch(text, /"isError":true/);
    assert.equal(upstream.hits[0]?.headers.authorization, `Bearer ${SECRETS.bob}`, JSON.stringify(meta));
  }
});

test('a principal without the credential gets a tool error naming it, and nothing goes upstream', async () => {
  upstream.hits.length = 0;
  for (const call of [callModern, callLegacy]) {
    const carol = await call(CAROL, 'gh');
    assert.equal(carol.isError, true);
    assert.match(textOf(carol), /no credential \\"github_token\\" stored for principal \\"carol\\"; an admin can add it with PUT \/admin\/credentials\/carol\/github_token/);
  }
  assert.equal(upstream.hits.length, 0);
});

test('rotation is another PUT: the next call sends the new value', async () => {
  const put = await gw.admin('PUT', '/admin/credentials/alice/github_token', { value: SECRETS.aliceRotated });
  assert.equal(put.status, 200);
  upstream.hits.length = 0;
  await callModern(ALICE, 'gh');
  assert.equal(upstream.hits[0]?.headers.authorization, `Bearer ${SECRETS.aliceRotated}`);
});

test('${claim:NAME} sends the allow-listed claims of the caller; a caller without them gets a tool error', async () => {
  upstream.hits.length = 0;
  const withClaims = await callModern(claimsHeader({ sub: 'user-123', email: 'u@example.com' }), 'who');
  assert.notEqual(withClaims.isError, true, textOf(withClaims));
  assert.equal(upstream.hits[0]?.headers['x-sub'], 'user-123');
  assert.equal(upstream.hits[0]?.query.get('email'), 'u@example.com');

  upstream.hits.length = 0;
  const apiKey = await callLegacy(ALICE, 'who');
  assert.equal(apiKey.isError, true);
  assert.match(textOf(apiKey), /claim \\"sub\\" is missing: principal \\"alice\\" authenticated without token claims/);
  const noEmail = await callModern(claimsHeader({ sub: 'user-456' }), 'who');
  assert.equal(noEmail.isError, true);
  assert.match(textOf(noEmail), /claim \\"email\\" is missing from the caller's token/);
  assert.equal(upstream.hits.length, 0);
});

test('a tool naming a claim off the allow-list is refused at write time', async () => {
  const refused = await gw.admin('PUT', '/admin/tds/groups', tool('groups', { headers: { 'X-Groups': '${claim:groups}' } }));
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error_code, 'INVALID_PAYLOAD');
  assert.match(refused.body.error, /\$\{claim:groups\}.*add groups to executor\.toolClaimsAllow \(DYNMCP_TOOL_CLAIMS_ALLOW\)/);
});

test('the admin listing shows principals, names and timestamps, never a value', async () => {
  const all = await gw.admin('GET', '/admin/credentials');
  assert.equal(all.status, 200);
  const entries = all.body.data as Array<Record<string, unknown>>;
  assert.deepEqual(
    entries.map((entry) => [entry.principal, entry.name]),
    [['alice', 'github_token'], ['bob', 'github_token']],
  );
  for (const entry of entries) {
    assert.deepEqual(Object.keys(entry).sort(), ['created_at', 'key_id', 'name', 'principal', 'revision', 'updated_at']);
    assert.equal(entry.key_id, createCredentialCipher(Buffer.from(KEY, 'base64')).keyId);
    assert.ok(Date.parse(entry.created_at as string) <= Date.parse(entry.updated_at as string));
  }
  const alice = entries[0] as { created_at: string; updated_at: string };
  assert.ok(alice.created_at < alice.updated_at, 'a rotation keeps created_at and moves updated_at');
  const bob = await gw.admin('GET', '/admin/credentials/bob');
  assert.deepEqual((bob.body.data as Array<{ principal: string }>).map((entry) => entry.principal), ['bob']);
  const text = JSON.stringify([all.body, bob.body]);
  for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret));
  const audit = await gw.admin('GET', '/admin/audit?since=0&limit=100');
  assert.equal(audit.status, 200);
  assert.ok(JSON.stringify(audit.body).includes('alice/github_token'));
  for (const secret of Object.values(SECRETS)) assert.ok(!JSON.stringify(audit.body).includes(secret));
});

test('a dry run shows the request with the credential masked', async () => {
  const dry = await gw.admin('POST', '/admin/tds/gh/test', { arguments: { q: 'x' }, principal: 'bob' });
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.equal(dry.body.data.request.headers.authorization, '***');
  assert.match(dry.body.data.request.url, /token=\*\*\*/);
  assert.ok(!JSON.stringify(dry.body).includes(SECRETS.bob));
  // As the admin itself (the test key's principal), who has no such credential.
  const asAdmin = await gw.admin('POST', '/admin/tds/gh/test', { arguments: { q: 'x' } });
  assert.equal(asAdmin.body.data.result.isError, true);
  assert.match(asAdmin.body.data.result.content[0].text, /no credential "github_token" stored for principal/);
});

test('bad principals, names and bodies are 4xx with stable codes', async () => {
  const put = (path: string, body: unknown, headers?: Record<string, string>) => gw.admin('PUT', `/admin/credentials/${path}`, body, headers);
  const cases: Array<[Promise<{ status: number; body: any }>, number, string]> = [
    [put('alice/bad%20name', { value: 'v' }), 400, 'INVALID_CREDENTIAL_NAME'],
    [put(`alice/${'n'.repeat(65)}`, { value: 'v' }), 400, 'INVALID_CREDENTIAL_NAME'],
    [put(`${'p'.repeat(191)}/token`, { value: 'v' }), 400, 'INVALID_CREDENTIAL_NAME'],
    [put('bad%20principal/token', { value: 'v' }), 400, 'INVALID_CREDENTIAL_NAME'],
    [put('alice/token', {}), 400, 'INVALID_PAYLOAD'],
    [put('alice/token', { value: 42 }), 400, 'INVALID_PAYLOAD'],
    [put('alice/token', { value: '' }), 400, 'INVALID_PAYLOAD'],
    [put('alice/token', { value: 'v', extra: 1 }), 400, 'INVALID_PAYLOAD'],
    [put('alice/token', { value: 'line\r\nbreak' }), 400, 'INVALID_PAYLOAD'],
    [put('alice/token', { value: 'x'.repeat(8193) }), 400, 'INVALID_PAYLOAD'],
    [put('alice/token', 'not json'), 400, 'INVALID_JSON'],
    [put('alice/token', 'value=v', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [gw.admin('POST', '/admin/credentials/alice/token', { value: 'v' }), 405, 'METHOD_NOT_ALLOWED'],
    [gw.admin('DELETE', '/admin/credentials/alice/never_stored'), 404, 'CREDENTIAL_NOT_FOUND'],
    [gw.admin('GET', '/admin/credentials/bad%20principal'), 400, 'INVALID_CREDENTIAL_NAME'],
  ];
  for (const [pending, status, code] of cases) {
    const answer = await pending;
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.equal(answer.body.error_code, code);
  }
  // A principal id holding "/" (an issuer URL and subject) travels percent-encoded.
  const issuerPrincipal = encodeURIComponent('https://as.example/users|u1');
  assert.equal((await put(`${issuerPrincipal}/gh`, { value: 'v' })).status, 200);
  const listed = await gw.admin('GET', `/admin/credentials/${issuerPrincipal}`);
  assert.deepEqual((listed.body.data as Array<{ principal: string; name: string }>).map((entry) => [entry.principal, entry.name]), [['https://as.example/users|u1', 'gh']]);
  assert.equal((await gw.admin('DELETE', `/admin/credentials/${issuerPrincipal}/gh`)).status, 200);
  const unauthenticated = await fetch(`${gw.url}/admin/credentials`, { headers: ALICE });
  assert.equal(unauthenticated.status, 403, 'a non-admin principal may not read the store');
});

test('If-Match and If-None-Match make a credential write conditional, as on every other admin write', async () => {
  const path = '/admin/credentials/dave/token';
  const created = await gw.admin('PUT', path, { value: 'first-value-1' }, { 'if-none-match': '*' });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const etag = created.headers.get('etag') as string;
  assert.equal(etag, `"${created.body.data.revision}"`);
  const cases: Array<[string, string, Record<string, string>]> = [
    ['PUT', 'create only, but it exists', { 'if-none-match': '*' }],
    ['PUT', 'over a revision it is no longer at', { 'if-match': `"${created.body.data.revision - 1}"` }],
    ['DELETE', 'over a revision it is no longer at', { 'if-match': `"${created.body.data.revision - 1}"` }],
  ];
  for (const [method, why, headers] of cases) {
    const refused = await gw.admin(method, path, method === 'PUT' ? { value: 'lost-update-2' } : undefined, headers);
    assert.equal(refused.status, 412, `${method} ${why}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error_code, 'PRECONDITION_FAILED');
  }
  const absent = await gw.admin('PUT', '/admin/credentials/dave/never_stored', { value: 'v' }, { 'if-match': '*' });
  assert.equal(absent.status, 412);
  assert.equal((await gw.admin('GET', '/admin/credentials/dave')).body.data.length, 1, 'nothing was written');
  const rotated = await gw.admin('PUT', path, { value: 'second-value-3' }, { 'if-match': etag });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.equal((await gw.admin('PUT', path, { value: 'third-value-4' }, { 'if-match': '*' })).status, 200);
  assert.equal((await gw.admin('DELETE', path, undefined, { 'if-match': etag })).status, 412, 'the ETag of a replaced value');
  assert.equal((await gw.admin('DELETE', path)).status, 200);
});

test('values are encrypted at rest: no plaintext anywhere in the SQLite files', async () => {
  const files = ['dynmcp.sqlite', 'dynmcp.sqlite-wal', 'dynmcp.sqlite-shm'].map((name) => join(gw.dataDir, name)).filter((file) => existsSync(file));
  assert.ok(files.length > 0);
  const bytes = Buffer.concat(files.map((file) => readFileSync(file)));
  assert.ok(bytes.includes('alice/github_token'), 'the records are there');
  for (const secret of Object.values(SECRETS)) assert.ok(!bytes.includes(secret), `${secret} is not stored in clear`);
});

test('values never reach the log or /metrics', async () => {
  const metrics = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
  const exposition = await metrics.text();
  assert.equal(metrics.status, 200);
  assert.match(exposition, /dynmcp_/);
  const logged = JSON.stringify(recording.lines);
  assert.ok(logged.includes('tool call'), 'the calls were logged');
  for (const secret of Object.values(SECRETS)) {
    assert.ok(!exposition.includes(secret), 'not in /metrics');
    assert.ok(!logged.includes(secret), 'not in the log');
  }
});

test('a gateway refuses to start without the key of its stored credentials, or with another key', async () => {
  await gw.stop({ keepData: true });
  const dataDir = join(dir, 'data');
  await assert.rejects(startTestGateway({ ...overrides(''), credentials: { key: '' } }, { dataDir }), /credential\(s\) but credentials\.key \(DYNMCP_CREDENTIALS_KEY\) is not set/);
  await assert.rejects(
    startTestGateway(overrides(randomBytes(32).toString('base64')), { dataDir }),
    /2 of 2 stored credential\(s\) cannot be decrypted with credentials\.key \(DYNMCP_CREDENTIALS_KEY\) or credentials\.previousKeys: wrong key\? First: .*encrypted with another key/,
  );
  // With its key it starts, and the deletes empty the store.
  gw = await startTestGateway(overrides(KEY), { dataDir });
  assert.equal((await gw.admin('DELETE', '/admin/credentials/alice/github_token')).status, 200);
  assert.equal((await gw.admin('DELETE', '/admin/credentials/bob/github_token')).status, 200);
  assert.deepEqual((await gw.admin('GET', '/admin/credentials')).body.data, []);
});

test('a gateway without a key refuses credential writes, saying which setting to set', async () => {
  const keyless = await startTestGateway({});
  try {
    const put = await keyless.admin('PUT', '/admin/credentials/alice/github_token', { value: 'v' });
    assert.equal(put.status, 501);
    assert.equal(put.body.error_code, 'CREDENTIALS_DISABLED');
    assert.match(put.body.error, /DYNMCP_CREDENTIALS_KEY/);
  } finally {
    await keyless.stop();
  }
});
