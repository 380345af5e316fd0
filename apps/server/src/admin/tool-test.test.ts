import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

const TOKEN = 'canary-token-4711';
const BIG_BYTES = 100 * 1024;

function tool(id: string, domain: string, extInfo: Record<string, unknown> = {}, method = 'GET') {
  return {
    id,
    name: id,
    description: `Tool ${id}`,
    input_schema: { type: 'object', properties: { item: { type: 'string' }, q: { type: 'string' } }, required: ['item'] },
    tds_ext_info: { domain, method, path: '/api/items/{item}', required_params: {}, ext_info: extInfo },
  };
}

/**
 * A POST written byte for byte, with only the headers given: `curl -X POST` without `-d` sends no
 * Content-Length and no Content-Type, which fetch and node:http never leave out.
 */
function rawPost(url: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(url);
  const lines = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, `authorization: Bearer ${TEST_KEY}`, 'connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: JSON.parse(text.slice(split + 4)) });
    });
  });
}

/** Credentials from `${env:…}` in a header under an ordinary name, under `authorization`, and in the query. */
const WITH_SECRETS = {
  headers: { authorization: 'Bearer ${env:UPSTREAM_TOKEN}', 'x-signed': 'v1 ${env:UPSTREAM_TOKEN}', 'x-plain': 'visible' },
  query: { key: '${env:UPSTREAM_TOKEN}' },
};

describe('POST /admin/tds/:id/test: trying a tool before clients see it', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startUpstream((hit, res) => {
      if (hit.pathname === '/api/items/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(BIG_BYTES));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'session=abc123; HttpOnly', 'x-upstream': 'yes' });
      res.end(JSON.stringify({ method: hit.method, url: hit.url, body: hit.body }));
    });
    gw = await startTestGateway({ executor: { toolEnvAllow: ['UPSTREAM_*'] } }, { env: { UPSTREAM_TOKEN: TOKEN } });
    assert.equal((await gw.admin('PUT', '/admin/tds/t', tool('t', upstream.url, WITH_SECRETS))).status, 200);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  test('a dry run of a tool no instance lists shows the exact request, secrets masked, and sends nothing', async () => {
    upstream.hits.length = 0;
    const res = await gw.admin('POST', '/admin/tds/t/test', { arguments: { item: 'a b', q: 'cats' } });
    assert.equal(res.status, 200);
    const data = res.body.data;
    assert.deepEqual(data.tool, { id: 't', name: 't', kind: 'http', revision: data.tool.revision, listed_by: [] });
    assert.equal(data.valid, true);
    assert.equal(data.sent, false);
    assert.deepEqual(data.request, {
      method: 'GET',
      url: `${upstream.url}/api/items/a%20b?q=cats&key=***`,
      headers: { 'user-agent': 'dynmcp', authorization: '***', 'x-signed': '***', 'x-plain': 'visible' },
    });
    assert.equal(data.response, undefined);
    assert.ok(!JSON.stringify(res.body).includes(TOKEN), 'no credential in the answer');
    assert.equal(upstream.hits.length, 0, 'the upstream saw nothing');

    const post = tool('p', upstream.url, {}, 'POST');
    assert.equal((await gw.admin('PUT', '/admin/tds/p', post)).status, 200);
    const withBody = await gw.admin('POST', '/admin/tds/p/test', { arguments: { item: 'a', q: 'dogs' }, send: false });
    assert.equal(withBody.body.data.request.body, '{"q":"dogs"}');
    assert.equal(withBody.body.data.request.body_truncated, false);
    assert.equal(withBody.body.data.request.headers['content-type'], 'application/json');
    assert.equal(upstream.hits.length, 0);
  });

  test('send: true calls the upstream through the tool caller: status, headers, bounded body and the MCP result a client gets', async () => {
    upstream.hits.length = 0;
    const res = await gw.admin('POST', '/admin/tds/t/test', { arguments: { item: 'a', q: 'cats' }, send: true });
    assert.equal(res.status, 200);
    const data = res.body.data;
    assert.equal(data.sent, true);
    assert.equal(data.request.headers.authorization, '***');
    assert.equal(data.response.status, 200);
    assert.equal(data.response.headers['set-cookie'], '***');
    assert.equal(data.response.headers['x-upstream'], 'yes');
    assert.equal(data.response.body_truncated, false);
    assert.equal(JSON.parse(data.response.body).method, 'GET');
    assert.equal(data.result.isError, undefined);
    assert.equal(JSON.parse(data.result.content[0].text).url, '/api/items/a?q=cats&key=[redacted]');
    assert.equal(upstream.hits.length, 1);
    assert.equal(upstream.hits[0]?.headers.authorization, `Bearer ${TOKEN}`, 'the real credential went upstream');
    assert.ok(!JSON.stringify(res.body).includes(TOKEN), 'the echoed query credential is redacted, the header masked');

    // The same call from an MCP client, once an instance lists the tool, gets the same result.
    await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });
    const { client } = await connectModern(`${gw.url}/mcp/shop`);
    try {
      const viaMcp = await client.callTool({ name: 't', arguments: { item: 'a', q: 'cats' } });
      assert.deepEqual(viaMcp.structuredContent, data.result.structuredContent);
      assert.deepEqual(viaMcp.content, data.result.content);
    } finally {
      await client.close();
      await gw.admin('DELETE', '/admin/ids/shop');
    }

    const big = await gw.admin('POST', '/admin/tds/t/test', { arguments: { item: 'big' }, send: true });
    assert.equal(big.body.data.response.body_bytes, BIG_BYTES);
    assert.equal(big.body.data.response.body_truncated, true);
    assert.equal(big.body.data.response.body.length, 64 * 1024);
  });

  test('invalid arguments are a 200 with valid: false and what is wrong; nothing is built or sent', async () => {
    upstream.hits.length = 0;
    for (const send of [false, true]) {
      const res = await gw.admin('POST', '/admin/tds/t/test', { arguments: { item: 5 }, send });
      assert.equal(res.status, 200);
      assert.equal(res.body.data.valid, false);
      assert.match(res.body.data.problems, /item/);
      assert.equal(res.body.data.sent, false);
      assert.equal(res.body.data.request, undefined);
    }
    const missing = await gw.admin('POST', '/admin/tds/t/test', {});
    assert.equal(missing.body.data.valid, false, 'no arguments: the required "item" is missing');
    assert.equal(upstream.hits.length, 0);
  });

  test('an unknown tool is 404 TOOL_NOT_FOUND; a malformed body is 400 INVALID_PAYLOAD saying what to fix', async () => {
    const unknown = await gw.admin('POST', '/admin/tds/nope/test', { arguments: {} });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error_code, 'TOOL_NOT_FOUND');
    const bad: Record<string, unknown>[] = [{ arguments: [] }, { arguments: 'x' }, { send: 'yes' }, { arguments: {}, sned: true }];
    for (const body of bad) {
      const res = await gw.admin('POST', '/admin/tds/t/test', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error_code, 'INVALID_PAYLOAD');
    }
    assert.match((await gw.admin('POST', '/admin/tds/t/test', { sned: true })).body.error, /unknown field\(s\) "sned"/);
    assert.equal((await gw.admin('POST', '/admin/tds/t/test', [1])).status, 400);
  });

  test('no body at all (curl -X POST without -d) is a dry run with every field at its default', async () => {
    const open = { ...tool('open', upstream.url), input_schema: { type: 'object', properties: {} } };
    open.tds_ext_info = { ...open.tds_ext_info, path: '/api/items' };
    assert.equal((await gw.admin('PUT', '/admin/tds/open', open)).status, 200);
    upstream.hits.length = 0;
    const asCurl = await rawPost(gw.url, '/admin/tds/open/test');
    assert.equal(asCurl.status, 200, JSON.stringify(asCurl.body));
    assert.equal(asCurl.body.data.valid, true);
    assert.equal(asCurl.body.data.sent, false);
    assert.equal(asCurl.body.data.request.url, `${upstream.url}/api/items`);
    // fetch sends Content-Length: 0 instead, and no Content-Type: no body all the same.
    const asFetch = await gw.admin('POST', '/admin/tds/open/test');
    assert.equal(asFetch.status, 200, JSON.stringify(asFetch.body));
    assert.deepEqual(asFetch.body.data, asCurl.body.data);
    // The defaults hold for the tool's own checks too: no arguments, and "item" is required.
    const missing = await rawPost(gw.url, '/admin/tds/t/test');
    assert.equal(missing.status, 200);
    assert.equal(missing.body.data.valid, false);
    assert.match(missing.body.data.problems, /item/);
    assert.equal(upstream.hits.length, 0, 'nothing was sent');
  });

  test('a body that is sent goes through the JSON checks: empty with a JSON Content-Type is {}, another or no Content-Type is 415', async () => {
    const empty = await gw.admin('POST', '/admin/tds/t/test', '');
    assert.equal(empty.status, 200, JSON.stringify(empty.body));
    assert.equal(empty.body.data.valid, false, 'no arguments: the required "item" is missing');

    const body = JSON.stringify({ arguments: { item: 'a' } });
    const asText = await gw.admin('POST', '/admin/tds/t/test', body, { 'content-type': 'text/plain' });
    assert.equal(asText.status, 415);
    assert.equal(asText.body.error_code, 'UNSUPPORTED_MEDIA_TYPE');
    const untyped = await rawPost(gw.url, '/admin/tds/t/test', { 'content-length': String(Buffer.byteLength(body)) }, body);
    assert.equal(untyped.status, 415);
    assert.equal(untyped.body.error_code, 'UNSUPPORTED_MEDIA_TYPE');
    const chunked = await rawPost(gw.url, '/admin/tds/t/test', { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' }, '0\r\n\r\n');
    assert.equal(chunked.status, 415, 'a chunked body is a body, even an empty one');

    const notJson = await gw.admin('POST', '/admin/tds/t/test', '{"arguments":');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error_code, 'INVALID_JSON');
    const unknown = await gw.admin('POST', '/admin/tds/t/test', { argument: {} });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /unknown field\(s\) "argument"/);
  });
});

describe('POST /admin/tds/:id/test and the egress policy', () => {
  test('a denied target: the dry run shows the request and the rule; a sent call is the tool error naming the rule', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dynmcp-tool-test-'));
    try {
      // Written under the development defaults, where loopback is allowed.
      const loose = await startTestGateway({}, { dataDir });
      assert.equal((await loose.admin('PUT', '/admin/tds/denied', tool('denied', 'http://127.0.0.2:9'))).status, 200);
      assert.equal((await loose.admin('PUT', '/admin/tds/by-name', tool('by-name', 'http://localhost:9'))).status, 200);
      await loose.stop({ keepData: true });

      const gw = await startTestGateway({ env: 'production', executor: { egress: { deny: ['127.0.0.2'] } } }, { dataDir });
      try {
        const rule = /^upstream 127\.0\.0\.2 is denied by the egress policy \(rule "127\.0\.0\.2" of executor\.egress\.deny \(DYNMCP_EGRESS_DENY\)\)/;
        const dry = await gw.admin('POST', '/admin/tds/denied/test', { arguments: { item: 'a' } });
        assert.equal(dry.status, 200);
        assert.equal(dry.body.data.request.url, 'http://127.0.0.2:9/api/items/a');
        assert.match(dry.body.data.would_be_refused, rule);

        const sent = await gw.admin('POST', '/admin/tds/denied/test', { arguments: { item: 'a' }, send: true });
        assert.equal(sent.body.data.sent, true);
        assert.equal(sent.body.data.response, null);
        assert.equal(sent.body.data.result.isError, true);
        assert.match(sent.body.data.result.content[0].text, rule);

        // A host name is judged on what it resolves to, as at connect time.
        const byName = await gw.admin('POST', '/admin/tds/by-name/test', { arguments: { item: 'a' } });
        assert.match(byName.body.data.would_be_refused, /^upstream localhost \((127\.0\.0\.1|::1)\) is denied by the egress policy \(built-in rule "loopback /);
      } finally {
        await gw.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
