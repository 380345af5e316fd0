/**
 * 2025-era session ids are tokens signed with `mcp.sessionSecret`: two replicas sharing the secret
 * and one store (here one SQLite file) serve each other's sessions, the GET stream included, and a
 * DELETE on one is refused on the other once its feed has the revocation. A replica with another
 * secret, another principal, a tampered id or garbage gets the unknown session's 404 and body,
 * never a 500.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectLegacy, TEST_AUTH } from '../test-support/mcp-clients.js';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

const SECRET = randomBytes(32).toString('base64');
const OTHER_KEY = 'team-b-key-0002';
let dataDir: string;
let a: TestGateway;
let b: TestGateway;
let stranger: TestGateway;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'dynmcp-session-tokens-'));
  const settings = { mcp: { sessionSecret: SECRET }, auth: { keys: [{ id: 'team-b', key: OTHER_KEY, instances: ['shop'] }] } };
  a = await startTestGateway(settings, { dataDir });
  b = await startTestGateway(settings, { dataDir });
  stranger = await startTestGateway({ mcp: { sessionSecret: randomBytes(32).toString('hex') } }, { dataDir });
  await a.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
  const put = await a.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });
  const revision: unknown = put.body.meta?.revision;
  assert.ok(typeof revision === 'number' && revision > 0, `the PUT reports its revision: ${JSON.stringify(put.body)}`);
  for (const gw of [b, stranger]) assert.ok(await gw.definitions.waitForRevision(revision, 5000));
});
after(async () => {
  for (const gw of [stranger, b, a]) await gw?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function send(gw: TestGateway, method: string, sessionId: string, body?: unknown, accept = 'application/json, text/event-stream', auth: Record<string, string> = TEST_AUTH) {
  return fetch(`${gw.url}/mcp/shop`, {
    method,
    headers: {
      ...auth,
      accept,
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
const LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
const read = async (response: Response) => ({ status: response.status, text: await response.text() });

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

test('a session opened on one replica is served by another: POST, GET stream and its list_changed', async () => {
  const { client, transport } = await connectLegacy(`${a.url}/mcp/shop`);
  const sessionId = transport.sessionId!;
  let toldOnA = false;
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    toldOnA = true;
  });
  try {
    const answer = await read(await send(b, 'POST', sessionId, LIST));
    assert.equal(answer.status, 200);
    assert.match(answer.text, /"name":"t"/);

    // B's GET stream carries the notification B's own feed causes.
    const stream = await send(b, 'GET', sessionId, undefined, 'text/event-stream');
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get('mcp-session-id'), sessionId);
    const reader = stream.body!.getReader();
    await a.admin('PUT', '/admin/tds/t2', echoTool('t2', 'http://127.0.0.1:9'));
    await a.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t', 't2'] });
    let seen = '';
    const decoder = new TextDecoder();
    while (!seen.includes('notifications/tools/list_changed')) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream stays open');
      seen += decoder.decode(value);
    }
    await reader.cancel();
    // The client on A keeps working meanwhile, and A tells it too (from A's own feed). Waiting for
    // that also keeps this change's notification, sent a few milliseconds after the change is
    // applied, from reaching the session the next test opens on A.
    assert.equal((await client.listTools()).tools.length, 2);
    await until('the client on A is told that the tool list changed', async () => toldOnA);
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});

test('DELETE on one replica ends the session on every replica, and the v1 client on the other sees it gone', async () => {
  const { client, transport } = await connectLegacy(`${a.url}/mcp/shop`);
  const sessionId = transport.sessionId!;
  let notified = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    notified += 1;
  });
  try {
    assert.equal((await send(b, 'POST', sessionId, LIST)).status, 200, 'B holds the session too');
    const ended = await send(b, 'DELETE', sessionId);
    assert.equal(ended.status, 200);
    assert.equal((await send(b, 'POST', sessionId, LIST)).status, 404, 'refused at once where it was ended');
    await until('A refuses the ended session', async () => (await send(a, 'POST', sessionId, LIST)).status === 404);
    assert.equal((await send(a, 'DELETE', sessionId)).status, 404);
    await assert.rejects(client.listTools());
    assert.equal(notified, 0);
  } finally {
    await client.close();
  }
});

test('another secret, another principal, a tampered id or garbage: the unknown session answer (404), never a 500', async () => {
  const { client, transport } = await connectLegacy(`${a.url}/mcp/shop`);
  const sessionId = transport.sessionId!;
  try {
    const unknown = await read(await send(a, 'POST', '6f1b1a52-0000-4000-8000-000000000000', LIST));
    assert.equal(unknown.status, 404);
    assert.deepEqual(await read(await send(stranger, 'POST', sessionId, LIST)), unknown, 'a replica with another secret');
    const asOther = { authorization: `Bearer ${OTHER_KEY}` };
    for (const method of ['POST', 'GET', 'DELETE']) {
      const answer = await read(await send(b, method, sessionId, method === 'POST' ? LIST : undefined, method === 'GET' ? 'text/event-stream' : undefined, asOther));
      assert.deepEqual(answer, unknown, `another principal on a replica that never saw the session: ${method}`);
    }
    const [version, payload, mac] = sessionId.split('.') as [string, string, string];
    const flipped = (text: string) => (text[3] === 'A' ? 'B' : 'A');
    for (const forged of [
      `${version}.${payload.slice(0, 3)}${flipped(payload)}${payload.slice(4)}.${mac}`,
      `${version}.${payload}.${mac.slice(0, 3)}${flipped(mac)}${mac.slice(4)}`,
      `${version}.${payload}.`,
      'v1..',
      '.',
      'x'.repeat(4000),
    ]) {
      for (const method of ['POST', 'GET', 'DELETE']) {
        const answer = await read(await send(a, method, forged, method === 'POST' ? LIST : undefined, method === 'GET' ? 'text/event-stream' : undefined));
        assert.deepEqual(answer, unknown, `${method} ${forged.slice(0, 30)}…`);
      }
    }
    assert.equal((await client.listTools()).tools.length, 2, 'the real session is untouched');
  } finally {
    await transport.terminateSession();
    await client.close();
  }
});
