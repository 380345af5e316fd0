import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';

const MiB = 1024 * 1024;
const CEILING = MiB;

function tool(id: string, domain: string, path: string, extInfo: Record<string, unknown> = {}) {
  return {
    id,
    name: id,
    description: `Tool ${id}`,
    input_schema: { type: 'object', properties: {} },
    tds_ext_info: { domain, method: 'GET', path, required_params: {}, ext_info: extInfo },
  };
}

async function callTool(gw: TestGateway, name: string) {
  const { client } = await connectModern(`${gw.url}/mcp/shop`);
  try {
    const result = await client.callTool({ name, arguments: {} });
    return { isError: result.isError === true, text: (result.content as { text?: string }[])[0]?.text ?? '' };
  } finally {
    await client.close();
  }
}

describe('upstream answers: size ceiling, decompression, JSON depth', () => {
  let upstream: TestUpstream;
  let gw: TestGateway;
  // 64 MiB of zeros, about 64 KiB compressed: well under the ceiling until inflated.
  const bomb = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });

  before(async () => {
    upstream = await startUpstream((hit, res) => {
      if (hit.url === '/bomb') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(bomb);
      } else if (hit.url === '/deep') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    });
    gw = await startTestGateway({ executor: { maxResponseBytes: CEILING } });
    for (const [id, path] of [['bomb', '/bomb'], ['deep', '/deep'], ['ok', '/ok']] as const) {
      assert.equal((await gw.admin('PUT', `/admin/tds/${id}`, tool(id, upstream.url, path))).status, 200);
    }
    await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['bomb', 'deep', 'ok'] });
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  test('a tool cannot raise its answer cap above executor.maxResponseBytes', async () => {
    const greedy = await gw.admin('PUT', '/admin/tds/greedy', tool('greedy', upstream.url, '/bomb', { max_response_bytes: 3 * 1024 ** 3 }));
    assert.equal(greedy.status, 400);
    assert.equal(greedy.body.error_code, 'INVALID_PAYLOAD');
    assert.equal(
      greedy.body.error,
      `ext_info.max_response_bytes must not exceed ${CEILING}, the gateway's executor.maxResponseBytes (DYNMCP_MAX_RESPONSE_BYTES)`,
    );
    assert.equal((await gw.admin('PUT', '/admin/tds/modest', tool('modest', upstream.url, '/ok', { max_response_bytes: CEILING }))).status, 200);
  });

  test('a gzip bomb is cut off at the cap after decompression', async () => {
    assert.ok(bomb.length < CEILING);
    const result = await callTool(gw, 'bomb');
    assert.equal(result.isError, true);
    assert.equal(result.text, `upstream response too large (over ${CEILING} bytes)`);
  });

  test('JSON nested deeper than 128 levels becomes a tool error, and the gateway keeps answering', async () => {
    const result = await callTool(gw, 'deep');
    assert.equal(result.isError, true);
    assert.equal(result.text, 'upstream answered 200 OK with JSON nested deeper than 128 levels; not passed on');
    assert.equal((await callTool(gw, 'ok')).isError, false);
  });
});
