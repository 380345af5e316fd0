import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRecordingLogger } from '@dynmcp/plugin';
import { echoTool, startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

// Never called: these tests only write definitions. A reserved name (RFC 2606) resolves nowhere.
const UPSTREAM = 'http://upstream.invalid';

interface RawResponse {
  status: number;
  body: any;
}

/**
 * Sends the request line's path exactly as given: `fetch` and `new URL` resolve `.` and `..`
 * segments (and their `%2E` spellings) away before anything is sent.
 */
function raw(gw: TestGateway, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: gw.port,
        method,
        path,
        headers: { authorization: `Bearer ${TEST_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A tool definition whose `ext_info` nests `depth` objects deep, as JSON text (JSON.stringify would recurse). */
function toolWithDeepExtInfo(id: string, depth: number): string {
  const deep = `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
  return JSON.stringify(echoTool(id, UPSTREAM)).replace('"ext_info":{}', `"ext_info":${deep}`);
}

describe('bad admin input is a 400 with a stable code, never a 500', () => {
  let gw: TestGateway;
  const log = createRecordingLogger();
  before(async () => {
    gw = await startTestGateway({}, { logger: log.logger });
  });
  after(async () => {
    await gw.stop();
    // Across every test of this suite: no error line, no 500 in the access log.
    assert.deepEqual(log.lines.filter((line) => line.level === 'error'), []);
    assert.deepEqual(log.lines.filter((line) => line.meta.status === 500), []);
  });

  test('an id that is not valid percent-encoded UTF-8 is 400 INVALID_PATH on every admin route', async () => {
    const tool = JSON.stringify(echoTool('x', UPSTREAM));
    const cases: Array<[string, string, string | undefined]> = [
      ['PUT', '/admin/tds/%FF', tool],
      ['GET', '/admin/tds/%FF', undefined],
      ['DELETE', '/admin/tds/%C0%AF', undefined],
      ['PUT', '/admin/ids/%E0%A4%A', JSON.stringify({ name: 'n', tool_ids: [] })],
      ['GET', '/admin/ids/a%', undefined],
    ];
    for (const [method, path, body] of cases) {
      const res = await fetch(`${gw.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body,
      });
      const answer = (await res.json()) as { code: number; error_code: string; error: string };
      assert.equal(res.status, 400, `${method} ${path}`);
      assert.equal(answer.code, 400);
      assert.equal(answer.error_code, 'INVALID_PATH', `${method} ${path}`);
      assert.match(answer.error, /percent-encode/);
    }
  });

  test('ids made only of dots are refused on PUT, for tools, instances and instance tool_ids', async () => {
    for (const id of ['.', '..', '...', '%2E%2E', '.%2e']) {
      const tool = await raw(gw, 'PUT', `/admin/tds/${id}`, JSON.stringify(echoTool('dots', UPSTREAM, { id: undefined })));
      assert.equal(tool.status, 400, `tool ${id}`);
      assert.equal(tool.body.error_code, 'INVALID_PAYLOAD');
      assert.match(tool.body.error, /made only of dots/);
      const instance = await raw(gw, 'PUT', `/admin/ids/${id}`, JSON.stringify({ name: 'n', tool_ids: [] }));
      assert.equal(instance.status, 400, `instance ${id}`);
      assert.match(instance.body.error, /\/id "\.+" is made only of dots/);
    }
    const listing = await gw.admin('PUT', '/admin/ids/lists-dots', { name: 'n', tool_ids: ['fine', '..'] });
    assert.equal(listing.status, 400);
    assert.equal(listing.body.error_code, 'INVALID_PAYLOAD');
    assert.match(listing.body.error, /\/tool_ids\/1 "\.\." is made only of dots/);
    const inBody = await gw.admin('PUT', '/admin/ids/x.y', { id: 'x.y', name: 'n', tool_ids: ['.a', 'a.', 'a..b'] });
    assert.equal(inBody.status, 200, 'dots next to other characters are fine');

    assert.equal((await raw(gw, 'GET', '/admin/tds/..')).status, 404, 'nothing was stored');
    assert.equal((await raw(gw, 'GET', '/admin/ids/.')).status, 404, 'nothing was stored');
    // The published schemas say the same, for clients that validate before they send.
    const schema = await gw.admin('GET', '/admin/schemas/ids');
    const idPattern = new RegExp(schema.body.data.properties.tool_ids.items.pattern as string, 'u');
    assert.deepEqual(['.', '..', '...', 'a', '.a'].map((id) => idPattern.test(id)), [false, false, false, true, true]);
  });

  test(`bodies nested deeper than 64 levels are 400 PAYLOAD_TOO_DEEP before anything reads them`, async () => {
    const deepTool = await raw(gw, 'PUT', '/admin/tds/deep', toolWithDeepExtInfo('deep', 5_000));
    assert.equal(deepTool.status, 400);
    assert.equal(deepTool.body.error_code, 'PAYLOAD_TOO_DEEP');
    assert.match(deepTool.body.error, /deeper than 64 levels \(at \/tds_ext_info\/ext_info\/a\/a/);
    const deepArray = await raw(gw, 'PUT', '/admin/ids/deep', `{"name":"n","tool_ids":[],"metadata":${'['.repeat(100_000)}}`);
    assert.equal(deepArray.status, 400, 'refused before the parser sees that the body is not even valid');
    assert.equal(deepArray.body.error_code, 'PAYLOAD_TOO_DEEP');
    // Root, tds_ext_info, then ext_info's own levels: 64 in all is accepted, 65 is not.
    assert.equal((await raw(gw, 'PUT', '/admin/tds/deep', toolWithDeepExtInfo('deep', 62))).status, 200);
    assert.equal((await raw(gw, 'PUT', '/admin/tds/deep', toolWithDeepExtInfo('deep', 63))).body.error_code, 'PAYLOAD_TOO_DEEP');
  });

  test('duplicate keys are 400 DUPLICATE_KEY naming the key and its path; look-alikes in strings are not', async () => {
    const tool = JSON.stringify(echoTool('dup', UPSTREAM));
    const cases: Array<[string, string, string]> = [
      [tool.replace('"name":"dup"', '"name":"dup","name":"other"'), 'name', '/name'],
      [tool.replace('"method":"GET"', '"method":"GET","method":"DELETE"'), 'method', '/tds_ext_info/method'],
      [tool.replace('"name":"dup"', '"name":"dup","\\u006eame":"other"'), 'name', '/name'],
      [tool.replace('"required":["item"]', '"required":["item"],"required":[]'), 'required', '/input_schema/properties/path/required'],
    ];
    for (const [body, key, path] of cases) {
      const res = await raw(gw, 'PUT', '/admin/tds/dup', body);
      assert.equal(res.status, 400, body);
      assert.equal(res.body.error_code, 'DUPLICATE_KEY');
      assert.deepEqual(res.body.details, { key, path });
      assert.ok(res.body.error.includes(`"${key}"`) && res.body.error.includes(path), res.body.error);
    }
    assert.equal((await raw(gw, 'GET', '/admin/tds/dup')).status, 404, 'nothing was stored');
    const quoted = JSON.stringify(echoTool('dup', UPSTREAM, { description: 'say "name":"x", "name":"y" \\" {[' }));
    assert.equal((await raw(gw, 'PUT', '/admin/tds/dup', quoted)).status, 200);
    const instance = await raw(gw, 'PUT', '/admin/ids/dup', '{"name":"n","tool_ids":[],"name":"m"}');
    assert.equal(instance.body.error_code, 'DUPLICATE_KEY');
  });

  test('a body in another charset than UTF-8 is 415', async () => {
    const body = Buffer.from(JSON.stringify(echoTool('u16', UPSTREAM)), 'utf16le').toString('latin1');
    const res = await fetch(`${gw.url}/admin/tds/u16`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json; charset=utf-16le' },
      body: Buffer.from(body, 'latin1'),
    });
    assert.equal(res.status, 415);
    assert.equal(((await res.json()) as { error_code: string }).error_code, 'UNSUPPORTED_MEDIA_TYPE');
    for (const [charset, named] of [['', 'an empty charset'], ['"ISO-8859-1"', 'ISO-8859-1']]) {
      const declared = await raw(gw, 'PUT', '/admin/tds/u16', JSON.stringify(echoTool('u16', UPSTREAM)), { 'content-type': `application/json; charset=${charset}` });
      assert.equal(declared.status, 415, charset);
      assert.equal(declared.body.error, `send the body as UTF-8 JSON, not ${named} (RFC 8259 § 8.1)`);
    }
    const utf8 = await raw(gw, 'PUT', '/admin/tds/u8', JSON.stringify(echoTool('u8', UPSTREAM)), { 'content-type': 'application/json; charset="UTF-8"' });
    assert.equal(utf8.status, 200, 'UTF-8 under any spelling is fine');
  });

  test('a client that drops mid-body on the admin API is an info line, not an error or a 500', async () => {
    const before = log.lines.length;
    const socket = connect({ port: gw.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.write(
      'PUT /admin/tds/dropped HTTP/1.1\r\n' +
        `Host: 127.0.0.1:${gw.port}\r\n` +
        `Authorization: Bearer ${TEST_KEY}\r\n` +
        'Content-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n' +
        '{"name":"dropped",',
    );
    await sleep(150);
    socket.destroy();
    const gone = () => log.lines.slice(before).find((line) => /went away/.test(line.message));
    const deadline = Date.now() + 3_000;
    while (gone() === undefined && Date.now() < deadline) await sleep(20);
    assert.equal(gone()?.level, 'info');
    assert.equal(typeof gone()?.meta.requestId, 'string');
    assert.deepEqual(log.lines.slice(before).filter((line) => line.level === 'error' || line.meta.status === 500), []);
  });
});
