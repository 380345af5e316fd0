import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { echoTool, startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

const UPSTREAM = 'http://127.0.0.1:9';

describe('admin API', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ server: { bodyLimitBytes: 64 * 1024 } });
  });
  after(() => gw.stop());

  test('tool routes: PUT creates, GET reads one and all, DELETE removes', async () => {
    const put = await gw.admin('PUT', '/admin/tds/t-crud', echoTool('t-crud', UPSTREAM));
    assert.equal(put.status, 200);
    assert.equal(put.body.code, 200);
    assert.equal(put.body.message, 'success');
    assert.equal(put.body.data.name, 't-crud');
    assert.match(put.headers.get('etag') ?? '', /^"\d+"$/);
    assert.equal(put.body.meta.applied, true, 'a write answers once this gateway serves it');

    const one = await gw.admin('GET', '/admin/tds/t-crud');
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.data, { ...echoTool('t-crud', UPSTREAM) });
    assert.equal(one.headers.get('etag'), put.headers.get('etag'));

    const all = await gw.admin('GET', '/admin/tds');
    assert.equal(all.status, 200);
    assert.ok(all.body.data.some((tool: { id: string }) => tool.id === 't-crud'));

    const del = await gw.admin('DELETE', '/admin/tds/t-crud');
    assert.equal(del.status, 200);
    assert.equal(del.body.meta.applied, true);
    assert.equal((await gw.admin('GET', '/admin/tds/t-crud')).status, 404);
  });

  test('instance routes: PUT lists missing tool ids, GET one and all, DELETE', async () => {
    await gw.admin('PUT', '/admin/tds/i-tool', echoTool('i-tool', UPSTREAM));
    const put = await gw.admin('PUT', '/admin/ids/inst-crud', { id: 'inst-crud', name: 'crud', tool_ids: ['i-tool', 'not-yet'] });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.meta.missing_tool_ids, ['not-yet']);
    assert.equal(put.body.meta.applied, true);
    assert.deepEqual(put.body.data.tool_ids, ['i-tool', 'not-yet']);

    const one = await gw.admin('GET', '/admin/ids/inst-crud');
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.meta.missing_tool_ids, ['not-yet']);
    const all = await gw.admin('GET', '/admin/ids');
    assert.ok(all.body.data.some((instance: { id: string }) => instance.id === 'inst-crud'));

    assert.equal((await gw.admin('DELETE', '/admin/ids/inst-crud')).status, 200);
    assert.equal((await gw.admin('GET', '/admin/ids/inst-crud')).status, 404);
  });

  test('the path id wins: a body without id takes it, a different one is 400', async () => {
    const { id: _id, ...withoutId } = echoTool('path-id', UPSTREAM);
    const put = await gw.admin('PUT', '/admin/tds/path-id', withoutId);
    assert.equal(put.status, 200);
    assert.equal(put.body.data.id, 'path-id');
    const mismatch = await gw.admin('PUT', '/admin/tds/path-id', echoTool('other-id', UPSTREAM));
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.error_code, 'ID_MISMATCH');
    assert.match(mismatch.body.error, /other-id/);
  });

  test('invalid payloads are 400 with a message naming the problem, and nothing is stored', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...echoTool('bad', UPSTREAM), name: 'has space' }, /\/name/],
      [{ ...echoTool('bad', UPSTREAM), name: 'x'.repeat(129) }, /\/name/],
      [{ ...echoTool('bad', UPSTREAM), surprise: true }, /unknown property "surprise"/],
      [{ ...echoTool('bad', UPSTREAM), input_schema: { type: 'string' } }, /input_schema\/type/],
      [{ ...echoTool('bad', UPSTREAM), input_schema: { type: 'object', properties: { a: { type: 'nope' } } } }, /input_schema/],
      // Refused at write time, not on every call.
      [{ ...echoTool('bad', UPSTREAM), input_schema: { type: 'object', properties: { x: { $ref: '#' } } } }, /a \$ref to the whole schema \("#"\) is not supported/],
      [{ ...echoTool('bad', UPSTREAM), input_schema: { type: 'object', $defs: { a: { $ref: '#/$defs/a' } }, properties: { x: { $ref: '#/$defs/a' } } } }, /go round in a circle/],
      [{ id: 'bad', name: 'bad', input_schema: {} }, /tds_ext_info/],
      [{ ...echoTool('bad', UPSTREAM), tds_ext_info: { domain: 'ftp://x', method: 'GET', path: '/a' } }, /domain|scheme/],
      [[1, 2], /object/],
    ];
    for (const [body, message] of cases) {
      const res = await gw.admin('PUT', '/admin/tds/bad', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 400);
      assert.equal(res.body.error_code, 'INVALID_PAYLOAD');
      assert.match(res.body.error, message);
    }
    assert.equal((await gw.admin('GET', '/admin/tds/bad')).status, 404);

    const badInstance = await gw.admin('PUT', '/admin/ids/bad', { name: 'x', tool_ids: 'a' });
    assert.equal(badInstance.status, 400);
    assert.match(badInstance.body.error, /tool_ids/);
    const badMeta = await gw.admin('PUT', '/admin/ids/bad', { name: 'x', tool_ids: [], metadata: '{"proto_type":"grpc"}' });
    assert.equal(badMeta.status, 400);
    assert.match(badMeta.body.error, /proto_type/);
  });

  test('a bad update never replaces the good record', async () => {
    await gw.admin('PUT', '/admin/tds/keep', echoTool('keep', UPSTREAM));
    const bad = await gw.admin('PUT', '/admin/tds/keep', { ...echoTool('keep', UPSTREAM), input_schema: 'nope' });
    assert.equal(bad.status, 400);
    const still = await gw.admin('GET', '/admin/tds/keep');
    assert.deepEqual(still.body.data.input_schema, echoTool('keep', UPSTREAM).input_schema);
  });

  test('malformed JSON is 400, a non-JSON body 415, an oversized body 413', async () => {
    const malformed = await gw.admin('PUT', '/admin/tds/x', '{"id": ', { 'content-type': 'application/json' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error_code, 'INVALID_JSON');
    const text = await gw.admin('PUT', '/admin/tds/x', 'hello', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal(text.body.error_code, 'UNSUPPORTED_MEDIA_TYPE');
    const noType = await fetch(`${gw.url}/admin/tds/x`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      body: new Uint8Array(Buffer.from('{}')),
    });
    assert.equal(noType.status, 415);
    const big = await gw.admin('PUT', '/admin/tds/x', { ...echoTool('x', UPSTREAM), description: 'x'.repeat(70 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error_code, 'PAYLOAD_TOO_LARGE');
  });

  test('auth: Bearer and x-api-key accepted; missing and wrong keys get the same 401', async () => {
    const viaHeader = await fetch(`${gw.url}/admin/tds`, { headers: { 'x-api-key': TEST_KEY } });
    assert.equal(viaHeader.status, 200);
    const bodies: string[] = [];
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { 'x-api-key': 'w' }, { authorization: `Basic ${TEST_KEY}` }];
    for (const headers of attempts) {
      for (const path of ['/admin/tds', '/admin/ids/anything', '/admin/tds/x']) {
        const res = await fetch(`${gw.url}${path}`, { headers });
        assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        bodies.push(await res.text());
      }
    }
    assert.equal(new Set(bodies).size, 1);
    const body = JSON.parse(bodies[0]!);
    assert.equal(body.code, 401);
    assert.equal(body.error_code, 'UNAUTHORIZED');
    const put = await fetch(`${gw.url}/admin/tds/x`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(put.status, 401);
  });

  test('unknown ids are 404 for GET and DELETE of both kinds', async () => {
    for (const path of ['/admin/tds/nope', '/admin/ids/nope']) {
      for (const method of ['GET', 'DELETE']) {
        const res = await gw.admin(method, path);
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(res.body.code, 404);
        assert.match(res.body.error_code, /_NOT_FOUND$/);
        assert.match(res.body.error, /nope/);
      }
    }
  });

  test('409 when a write would give one instance two tools with the same name', async () => {
    await gw.admin('PUT', '/admin/tds/dup-a', { ...echoTool('dup-a', UPSTREAM), name: 'same_name' });
    await gw.admin('PUT', '/admin/tds/dup-b', { ...echoTool('dup-b', UPSTREAM), name: 'other_name' });
    const conflict = await gw.admin('PUT', '/admin/ids/dup-inst', { name: 'd', tool_ids: ['dup-a', 'dup-b', 'dup-c'] });
    assert.equal(conflict.status, 200);
    // Renaming dup-b to dup-a's name would clash inside dup-inst.
    const rename = await gw.admin('PUT', '/admin/tds/dup-b', { ...echoTool('dup-b', UPSTREAM), name: 'same_name' });
    assert.equal(rename.status, 409);
    assert.equal(rename.body.error_code, 'DUPLICATE_TOOL_NAME');
    assert.match(rename.body.error, /dup-inst/);
    assert.match(rename.body.error, /same_name/);
    // Creating the missing dup-c with a taken name clashes too.
    const create = await gw.admin('PUT', '/admin/tds/dup-c', { ...echoTool('dup-c', UPSTREAM), name: 'other_name' });
    assert.equal(create.status, 409);
    // An instance listing two same-named tools is refused.
    await gw.admin('PUT', '/admin/tds/dup-d', { ...echoTool('dup-d', UPSTREAM), name: 'same_name' });
    const listing = await gw.admin('PUT', '/admin/ids/dup-inst2', { name: 'd2', tool_ids: ['dup-a', 'dup-d'] });
    assert.equal(listing.status, 409);
    assert.match(listing.body.error, /dup-inst2/);
    assert.equal((await gw.admin('GET', '/admin/ids/dup-inst2')).status, 404);
  });

  test('deleting a tool that instances use succeeds and names them', async () => {
    await gw.admin('PUT', '/admin/tds/shared', echoTool('shared', UPSTREAM));
    await gw.admin('PUT', '/admin/ids/user-1', { name: 'u1', tool_ids: ['shared'] });
    await gw.admin('PUT', '/admin/ids/user-2', { name: 'u2', tool_ids: ['shared'] });
    const del = await gw.admin('DELETE', '/admin/tds/shared');
    assert.equal(del.status, 200);
    assert.deepEqual(del.body.meta.used_by, ['user-1', 'user-2']);
    const instance = await gw.admin('GET', '/admin/ids/user-1');
    assert.deepEqual(instance.body.meta.missing_tool_ids, ['shared']);
  });

  test('If-Match: the current ETag writes, a stale one is 412; If-None-Match: * creates only', async () => {
    const first = await gw.admin('PUT', '/admin/tds/occ', echoTool('occ', UPSTREAM));
    const etag = first.headers.get('etag')!;
    const second = await gw.admin('PUT', '/admin/tds/occ', echoTool('occ', UPSTREAM), { 'if-match': etag });
    assert.equal(second.status, 200);
    const stale = await gw.admin('PUT', '/admin/tds/occ', echoTool('occ', UPSTREAM), { 'if-match': etag });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.error_code, 'PRECONDITION_FAILED');
    const create = await gw.admin('PUT', '/admin/tds/occ', echoTool('occ', UPSTREAM), { 'if-none-match': '*' });
    assert.equal(create.status, 412);
    const staleDelete = await gw.admin('DELETE', '/admin/tds/occ', undefined, { 'if-match': etag });
    assert.equal(staleDelete.status, 412);
    const garbage = await gw.admin('PUT', '/admin/tds/occ', echoTool('occ', UPSTREAM), { 'if-match': 'yesterday' });
    assert.equal(garbage.status, 400);
  });

  test('unknown routes are 404 and wrong methods 405, in the error envelope', async () => {
    const unknown = await gw.admin('GET', '/admin/nothing');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error_code, 'NOT_FOUND');
    const post = await gw.admin('POST', '/admin/tds', {});
    assert.equal(post.status, 405);
    assert.equal(post.body.error_code, 'METHOD_NOT_ALLOWED');
  });

  test('the published JSON Schemas are served', async () => {
    const tool = await gw.admin('GET', '/admin/schemas/tds');
    assert.equal(tool.body.data.title, 'DynMCP tool definition (TDS)');
    const instance = await gw.admin('GET', '/admin/schemas/ids');
    assert.ok(instance.body.data.properties.tool_ids);
  });
});

test('definitions survive a restart of the server', async () => {
  const first = await startTestGateway();
  await first.admin('PUT', '/admin/tds/persist', echoTool('persist', UPSTREAM));
  await first.admin('PUT', '/admin/ids/persist-inst', { name: 'p', tool_ids: ['persist'], metadata: '{"proto_type":"streamable-stateless"}' });
  await first.admin('DELETE', '/admin/tds/persist');
  await first.admin('PUT', '/admin/tds/persist2', echoTool('persist2', UPSTREAM));
  await first.stop({ keepData: true });

  const second = await startTestGateway({}, { dataDir: first.dataDir });
  try {
    assert.equal((await second.admin('GET', '/admin/tds/persist')).status, 404);
    assert.equal((await second.admin('GET', '/admin/tds/persist2')).body.data.name, 'persist2');
    const instance = await second.admin('GET', '/admin/ids/persist-inst');
    assert.equal(instance.body.data.metadata, '{"proto_type":"streamable-stateless"}');
    assert.equal(second.definitions.instance('persist-inst')?.protoType, 'streamable-stateless');
    assert.equal(second.definitions.instance('persist-inst')?.tools.length, 0);
  } finally {
    await second.stop();
  }
});

test('after too many failed authentications an address gets 429 with Retry-After, then may try again', async () => {
  const gw = await startTestGateway({ admin: { maxAuthFailures: 3, authFailureWindowMs: 1500 } });
  try {
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await fetch(`${gw.url}/admin/tds`, { headers: { authorization: 'Bearer guess' } })).status, 401);
    }
    const blocked = await gw.admin('GET', '/admin/tds');
    assert.equal(blocked.status, 429, 'even the right key waits');
    assert.equal(blocked.body.error_code, 'TOO_MANY_REQUESTS');
    assert.ok(Number(blocked.headers.get('retry-after')) >= 1);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    assert.equal((await gw.admin('GET', '/admin/tds')).status, 200);
  } finally {
    await gw.stop();
  }
});
