/**
 * Rotating `credentials.key`: a gateway given a new key and the old one in
 * `credentials.previousKeys` reads every stored credential, `POST /admin/credentials/rotate`
 * re-encrypts them under the new key (never undoing a write made meanwhile, leaving unreadable
 * records alone), and the old key can then go. Real gateways on one SQLite file, a real upstream
 * that records what the tools send.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createCredentialAdmin } from './admin-credentials.js';
import { createCredentialCipher, createLiveDefinitions, createSchemaCompiler, loadConfig } from '@dynmcp/common';
import { createSqlDataSource } from '@dynmcp/datasources';
import { createRecordingLogger, silentLogger } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const OLD = randomBytes(32);
const NEW = randomBytes(32);
const OLD_ID = createCredentialCipher(OLD).keyId;
const NEW_ID = createCredentialCipher(NEW).keyId;
const VALUES = { alice: 'ghp_alice_value_0001', bob: 'ghp_bob_value_0002', bobAgain: 'ghp_bob_value_0003' };

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-key-rotation-'));
const dataDir = join(dir, 'data');
let upstream: TestUpstream;
let gw: TestGateway;

const settings = (key: Buffer | undefined, previous: Buffer[] = []) => ({
  credentials: { key: key?.toString('base64') ?? '', previousKeys: previous.map((old) => old.toString('base64')).join(',') },
  executor: { egress: { allow: ['127.0.0.1'] } },
  auth: {
    keys: [
      { id: 'alice', key: 'alice-key-0001', instances: '*' },
      { id: 'bob', key: 'bob-key-00002', instances: '*' },
    ],
  },
});

type Listing = { principal: string; name: string; key_id: string; created_at: string; updated_at: string; revision: number };
const listing = async () => (await gw.admin('GET', '/admin/credentials')).body.data as Listing[];
const keyIds = async () => (await listing()).map((entry) => `${entry.principal}:${entry.key_id}`);

/** What the upstream received as `Authorization` when `key` called the `gh` tool. */
async function sentFor(key: string): Promise<string | undefined> {
  upstream.hits.length = 0;
  const { client } = await connectModern(`${gw.url}/mcp/creds`, { authorization: `Bearer ${key}` });
  try {
    const result = await client.callTool({ name: 'gh', arguments: {} });
    assert.notEqual(result.isError, true, JSON.stringify(result.content));
  } finally {
    await client.close();
  }
  return upstream.hits[0]?.headers.authorization;
}

before(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway(settings(OLD), { dataDir });
  const gh = {
    id: 'gh',
    name: 'gh',
    description: 'calls the upstream as the caller',
    input_schema: { type: 'object', properties: {} },
    tds_ext_info: { domain: upstream.url, method: 'GET', path: '/gh', ext_info: { headers: { Authorization: 'Bearer ${principal:github_token}' } } },
  };
  assert.equal((await gw.admin('PUT', '/admin/tds/gh', gh)).status, 200);
  assert.equal((await gw.admin('PUT', '/admin/ids/creds', { name: 'creds', tool_ids: ['gh'] })).status, 200);
  for (const [principal, value] of [['alice', VALUES.alice], ['bob', VALUES.bob]] as const) {
    assert.equal((await gw.admin('PUT', `/admin/credentials/${principal}/github_token`, { value })).status, 200);
  }
  assert.deepEqual(await keyIds(), [`alice:${OLD_ID}`, `bob:${OLD_ID}`], 'the listing names the key of each record');
  await gw.stop({ keepData: true });
});

after(async () => {
  await gw?.stop({ keepData: true });
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a new key alone is refused at start; with the old one as previous, every credential is read', async () => {
  await assert.rejects(startTestGateway(settings(NEW), { dataDir }), (error: Error) => {
    assert.match(error.message, /2 of 2 stored credential\(s\) cannot be decrypted with credentials\.key \(DYNMCP_CREDENTIALS_KEY\) or credentials\.previousKeys/);
    assert.match(error.message, new RegExp(`encrypted with another key \\(key id ${OLD_ID}\\); .* has key id ${NEW_ID}`));
    return true;
  });
  const recording = createRecordingLogger();
  gw = await startTestGateway(settings(NEW, [OLD]), { dataDir, logger: recording.logger });
  const warning = recording.lines.find((line) => line.message.startsWith('stored credentials under a previous credentials key'));
  assert.equal(warning?.meta?.credentials, 2, JSON.stringify(recording.lines.map((line) => line.message)));
  assert.equal(await sentFor('alice-key-0001'), `Bearer ${VALUES.alice}`);
  // A write from now on is under the new key.
  assert.equal((await gw.admin('PUT', '/admin/credentials/bob/github_token', { value: VALUES.bobAgain })).status, 200);
  assert.deepEqual(await keyIds(), [`alice:${OLD_ID}`, `bob:${NEW_ID}`]);
  assert.equal(await sentFor('bob-key-00002'), `Bearer ${VALUES.bobAgain}`);
});

test('POST /admin/credentials/rotate re-encrypts what is under a previous key, keeping values and timestamps', async () => {
  const before = await listing();
  const rotated = await gw.admin('POST', '/admin/credentials/rotate');
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const { revision, ...rest } = rotated.body.data as { revision: number };
  assert.deepEqual(rest, { key_id: NEW_ID, rotated: 1, current: 1, changed: [], unreadable: [] });
  assert.ok(Number.isSafeInteger(revision) && revision > before[1]!.revision);
  const afterward = await listing();
  assert.deepEqual(afterward.map((entry) => entry.key_id), [NEW_ID, NEW_ID]);
  assert.equal(afterward[0]!.created_at, before[0]!.created_at);
  assert.equal(afterward[0]!.updated_at, before[0]!.updated_at, 'the value did not change');
  assert.equal(afterward[0]!.revision, revision);
  assert.equal(await sentFor('alice-key-0001'), `Bearer ${VALUES.alice}`);
  const audit = await gw.admin('GET', `/admin/audit?since=${revision - 1}`);
  assert.deepEqual(
    (audit.body.data.entries as Array<{ kind: string; id: string; action: string }>).map((entry) => [entry.kind, entry.id, entry.action]),
    [['credential', 'alice/github_token', 'put']],
    'a re-encryption is a put in the audit',
  );
  assert.ok(!JSON.stringify(rotated.body).includes(VALUES.alice));
  const again = await gw.admin('POST', '/admin/credentials/rotate', {});
  assert.deepEqual(again.body.data, { key_id: NEW_ID, rotated: 0, current: 2, changed: [], unreadable: [] }, 'a second run has nothing to do');
});

test('once rotated, the old key can go; a gateway with only the old key is refused', async () => {
  await gw.stop({ keepData: true });
  await assert.rejects(startTestGateway(settings(OLD), { dataDir }), /cannot be decrypted .*encrypted with another key/);
  gw = await startTestGateway(settings(NEW), { dataDir });
  assert.equal(await sentFor('alice-key-0001'), `Bearer ${VALUES.alice}`);
  assert.equal(await sentFor('bob-key-00002'), `Bearer ${VALUES.bobAgain}`);
});

test('bad requests and settings are refused with stable codes and say what to fix', async () => {
  const cases: Array<[Promise<{ status: number; body: any }>, number, string]> = [
    [gw.admin('POST', '/admin/credentials/rotate', { all: true }), 400, 'INVALID_PAYLOAD'],
    [gw.admin('POST', '/admin/credentials/rotate', []), 400, 'INVALID_PAYLOAD'],
    [gw.admin('POST', '/admin/credentials/rotate', 'not json'), 400, 'INVALID_JSON'],
    [gw.admin('PATCH', '/admin/credentials/rotate'), 405, 'METHOD_NOT_ALLOWED'],
  ];
  for (const [pending, status, code] of cases) {
    const answer = await pending;
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.equal(answer.body.error_code, code);
  }
  const notAdmin = await fetch(`${gw.url}/admin/credentials/rotate`, { method: 'POST', headers: { authorization: 'Bearer alice-key-0001' } });
  assert.equal(notAdmin.status, 403);
  // A principal called "rotate" keeps its own routes.
  assert.equal((await gw.admin('PUT', '/admin/credentials/rotate/token', { value: 'v-rotate' })).status, 200);
  assert.deepEqual(((await gw.admin('GET', '/admin/credentials/rotate')).body.data as Listing[]).map((entry) => entry.name), ['token']);
  assert.equal((await gw.admin('DELETE', '/admin/credentials/rotate/token')).status, 200);
  // The listing is by principal, then name, though the store orders "alice.b/…" before "alice/…".
  assert.equal((await gw.admin('PUT', '/admin/credentials/alice.b/token', { value: 'v-alice-b' })).status, 200);
  assert.deepEqual(
    (await listing()).map((entry) => `${entry.principal} ${entry.name}`),
    ['alice github_token', 'alice.b token', 'bob github_token'],
  );
  assert.equal((await gw.admin('DELETE', '/admin/credentials/alice.b/token')).status, 200);

  const keyless = await startTestGateway({});
  try {
    const refused = await keyless.admin('POST', '/admin/credentials/rotate');
    assert.equal(refused.status, 501);
    assert.equal(refused.body.error_code, 'CREDENTIALS_DISABLED');
  } finally {
    await keyless.stop();
  }
  await assert.rejects(startTestGateway(settings(undefined, [OLD])), /previousKeys \(DYNMCP_CREDENTIALS_PREVIOUS_KEYS\) is set but credentials\.key .* is not/);
  const configDir = join(dir, 'no-config-files');
  for (const previous of ['not-base64!', randomBytes(16).toString('base64'), `${OLD.toString('base64')},,short`]) {
    assert.throws(
      () => loadConfig({ env: { DYNMCP_CREDENTIALS_PREVIOUS_KEYS: previous }, configDir }),
      /credentials\.previousKeys: entry \d+ is not 32 random bytes in base64/,
      previous,
    );
  }
  const two = loadConfig({ env: { DYNMCP_CREDENTIALS_PREVIOUS_KEYS: ` ${OLD.toString('base64')} , ${NEW.toString('base64')} ` }, configDir });
  assert.equal(two.credentials.previousKeys.split(',').length, 2);
});

test('a rotation never undoes a write made while it runs, and leaves unreadable records alone', async () => {
  const store = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'direct.sqlite'), pollIntervalMs: 50, logger: silentLogger });
  await store.open();
  const definitions = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: silentLogger });
  await definitions.start();
  try {
    const old = createCredentialCipher(OLD);
    const stranger = createCredentialCipher(randomBytes(32));
    const times = { created_at: '2026-01-01T00:00:00.000Z', updated_at: '2026-01-01T00:00:00.000Z' };
    await store.put('credential', 'alice/token', old.encrypt('alice/token', 'alice-old', times));
    await store.put('credential', 'bob/token', old.encrypt('bob/token', 'bob-old', times));
    await store.put('credential', 'carol/token', stranger.encrypt('carol/token', 'carol-value', times));
    const rotating = createCredentialCipher(NEW, [OLD]);
    // Another admin rewrites bob's credential (under the old key, as a replica not yet given the
    // new one would) after the rotation listed the records and before it writes them.
    let raced = false;
    const racing = {
      ...store,
      list: async (kind: string) => {
        const records = await store.list(kind);
        if (!raced) {
          raced = true;
          await store.put('credential', 'bob/token', old.encrypt('bob/token', 'bob-newer', times));
        }
        return records;
      },
      put: store.put.bind(store),
      health: store.health.bind(store),
    };
    const admin = createCredentialAdmin({ datasource: racing, definitions, cipher: rotating });
    const result = await admin.rotate('admin');
    assert.deepEqual({ ...result, revision: undefined }, { key_id: NEW_ID, rotated: 1, current: 0, changed: ['bob/token'], unreadable: ['carol/token'], revision: undefined });
    const bob = await store.get('credential', 'bob/token');
    assert.equal(rotating.decrypt('bob/token', bob?.value), 'bob-newer', 'the concurrent write stands');
    assert.equal((bob?.value as { key_id: string }).key_id, OLD_ID);
    const alice = await store.get('credential', 'alice/token');
    assert.equal((alice?.value as { key_id: string }).key_id, NEW_ID);
    assert.equal(createCredentialCipher(NEW).decrypt('alice/token', alice?.value), 'alice-old');
    // Run again: bob's newer value moves too; carol's stays unreadable and untouched.
    const second = await admin.rotate('admin');
    assert.deepEqual([second.rotated, second.current, second.changed, second.unreadable], [1, 1, [], ['carol/token']]);
    assert.equal(createCredentialCipher(NEW).decrypt('bob/token', (await store.get('credential', 'bob/token'))?.value), 'bob-newer');
  } finally {
    await definitions.close();
    await store.close();
  }
});
