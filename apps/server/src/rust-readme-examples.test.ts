import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { RUST_README_CURL_EXAMPLES } from './test-support/rust-readme-curl-examples.js';
import { startTestGateway, TEST_KEY, type TestGateway } from './test-support/test-gateway.js';

const run = promisify(execFile);
let gw: TestGateway;

before(async () => {
  // The Rust project's placeholder key, set in config as an operator following its README would.
  gw = await startTestGateway({ admin: { apiKeys: ['your-api-key', TEST_KEY] } });
});
after(() => gw.stop());

/** Runs one example exactly as written, pointed at the test gateway; returns status and JSON body. */
async function curl(example: string): Promise<{ status: number; body: any }> {
  const command = `${example.replaceAll('http://localhost:8080', gw.url)} -s -w '\\n%{http_code}'`;
  const { stdout } = await run('bash', ['-c', command]);
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  const json = text.startsWith('event:') || text.startsWith('data:') ? /^data: (.*)$/m.exec(text)![1]! : text;
  return { status, body: JSON.parse(json) };
}

test('every curl example of the Rust dynmcp README works, in the README order', async () => {
  const listTools = await curl(RUST_README_CURL_EXAMPLES.listTools);
  assert.equal(listTools.status, 200);
  assert.deepEqual(listTools.body, { code: 200, message: 'success', data: [] });

  const getMissing = await curl(RUST_README_CURL_EXAMPLES.getTool);
  assert.equal(getMissing.status, 404);
  assert.equal(getMissing.body.code, 404);
  assert.match(getMissing.body.error, /tool123/);

  const putTool = await curl(RUST_README_CURL_EXAMPLES.putTool);
  assert.equal(putTool.status, 200);
  assert.equal(putTool.body.data.name, 'example_tool');
  const getTool = await curl(RUST_README_CURL_EXAMPLES.getTool);
  assert.equal(getTool.status, 200);
  assert.equal(getTool.body.data.tds_ext_info.domain, 'api.example.com');

  assert.equal((await curl(RUST_README_CURL_EXAMPLES.listInstances)).status, 200);
  assert.equal((await curl(RUST_README_CURL_EXAMPLES.getInstance)).status, 404);
  const putInstance = await curl(RUST_README_CURL_EXAMPLES.putInstance);
  assert.equal(putInstance.status, 200);
  assert.deepEqual(putInstance.body.meta.missing_tool_ids, ['tool1', 'tool2', 'tool3']);
  assert.equal((await curl(RUST_README_CURL_EXAMPLES.getInstance)).body.data.name, 'example_instance');

  // The MCP example: plain JSON-RPC tools/list, no initialize, curl's default Accept.
  const mcp = await curl(RUST_README_CURL_EXAMPLES.mcpToolsList);
  assert.equal(mcp.status, 200);
  assert.equal(mcp.body.jsonrpc, '2.0');
  assert.equal(mcp.body.id, 1);
  assert.deepEqual(mcp.body.result.tools, []);
  // With the README's tool listed in the instance, the same example lists it.
  const relisted = await gw.admin('PUT', '/admin/ids/instance123', { name: 'example_instance', tool_ids: ['tool123'] });
  assert.equal(relisted.status, 200);
  const listed = await curl(RUST_README_CURL_EXAMPLES.mcpToolsList);
  assert.deepEqual(
    listed.body.result.tools.map((tool: { name: string }) => tool.name),
    ['example_tool'],
  );

  assert.equal((await curl(RUST_README_CURL_EXAMPLES.deleteTool)).status, 200);
  assert.equal((await curl(RUST_README_CURL_EXAMPLES.deleteInstance)).status, 200);
  assert.equal((await curl(RUST_README_CURL_EXAMPLES.getInstance)).status, 404);
});
