// Admin request bodies above SLICED_BODY_BYTES, checked and parsed in slices (sliced-json.ts), on a
// real gateway: the same answers as a small body gets, written or refused with the same codes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { echoTool, startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';
import { SLICED_BODY_BYTES } from './admin-json-body.js';

const UPSTREAM = 'http://127.0.0.1:9';
const LIMIT = 4 * SLICED_BODY_BYTES;

/** A batch of tools whose body lies between the sliced size and the limit. */
function bigBatch(prefix: string): { operations: unknown[] } {
  const operations = Array.from({ length: 60 }, (_, i) => ({
    op: 'put',
    kind: 'tds',
    id: `${prefix}-${i}`,
    value: { ...echoTool(`${prefix}-${i}`, UPSTREAM), description: `tool ${i} ${'d'.repeat(4_000)}` },
  }));
  return { operations };
}

async function post(gw: TestGateway, body: string | Buffer, contentType = 'application/json') {
  const res = await fetch(`${gw.url}/admin/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': contentType },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: res.status, body: (await res.json()) as { error_code?: string; details?: unknown; data?: { put: unknown[] } } };
}

describe('admin bodies of hundreds of KB', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ server: { bodyLimitBytes: LIMIT } });
  });
  after(() => gw.stop());

  test('a large batch is parsed and written whole, a UTF-8 byte order mark before it included', async () => {
    const text = JSON.stringify(bigBatch('big'), null, 1);
    assert.ok(text.length > SLICED_BODY_BYTES && text.length < LIMIT);
    const written = await post(gw, text);
    assert.equal(written.status, 200, JSON.stringify(written.body).slice(0, 300));
    assert.equal(written.body.data?.put.length, 60);
    const tool = await gw.admin('GET', '/admin/tds/big-59');
    assert.match(tool.body.data.description, /^tool 59 d+$/);
    const withBom = await post(gw, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(bigBatch('bom')))]));
    assert.equal(withBom.status, 200);
  });

  test('a large body that is not JSON is 400 INVALID_JSON, however it is broken', async () => {
    const text = JSON.stringify(bigBatch('bad'));
    const middle = text.indexOf('"kind"', text.length / 2);
    for (const broken of [text.slice(0, -1), `${text.slice(0, middle)}${text.slice(middle + 1)}`, `${text}]`, text.replace('"op":"put",', '"op":"put" ')]) {
      const answer = await post(gw, broken);
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error_code, 'INVALID_JSON');
    }
    assert.equal((await gw.admin('GET', '/admin/tds/bad-0')).status, 404);
  });

  test('a large body with a key twice or nested too deep is refused with the guard’s code and path', async () => {
    const text = JSON.stringify(bigBatch('guard'));
    const duplicate = await post(gw, text.replace('"op":"put"', '"op":"put","op":"put"'));
    assert.equal(duplicate.status, 400);
    assert.equal(duplicate.body.error_code, 'DUPLICATE_KEY');
    assert.deepEqual(duplicate.body.details, { key: 'op', path: '/operations/0/op' });
    const deep = await post(gw, text.replace('"op":"put"', `"op":"put","x":${'['.repeat(70)}${']'.repeat(70)}`));
    assert.equal(deep.body.error_code, 'PAYLOAD_TOO_DEEP');
  });

  test('over the limit is 413; another charset than UTF-8 is 415', async () => {
    const tooLarge = await post(gw, JSON.stringify({ operations: [...bigBatch('a').operations, ...bigBatch('b').operations] }));
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.error_code, 'PAYLOAD_TOO_LARGE');
    const latin1 = await post(gw, JSON.stringify(bigBatch('latin')), 'application/json; charset=latin1');
    assert.equal(latin1.status, 415);
    assert.equal(latin1.body.error_code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('bytes that are not UTF-8 are 400 INVALID_JSON, large or small, and nothing is written', async () => {
    const large = Buffer.from(JSON.stringify(bigBatch('bytes')));
    const small = Buffer.from(JSON.stringify({ operations: bigBatch('small').operations.slice(0, 1) }));
    for (const text of [large, small]) {
      // A Latin-1 "é" (0xE9) inside a description: valid JSON syntax, broken UTF-8.
      const at = text.indexOf('tool 0 ') + 5;
      const broken = Buffer.concat([text.subarray(0, at), Buffer.from([0xe9]), text.subarray(at)]);
      const answer = await post(gw, broken);
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.error_code, 'INVALID_JSON');
      assert.match((answer.body as { error?: string }).error ?? '', /not valid UTF-8/);
    }
    assert.equal((await gw.admin('GET', '/admin/tds/bytes-0')).status, 404);
    assert.equal((await gw.admin('GET', '/admin/tds/small-0')).status, 404);
  });

  test('a compressed body is read as its Content-Encoding says; one that does not decode is 400 INVALID_JSON, an unknown encoding 415', async () => {
    const send = async (body: Buffer, encoding: string) => {
      const res = await fetch(`${gw.url}/admin/batch`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', 'content-encoding': encoding },
        body: new Uint8Array(body),
      });
      return { status: res.status, body: (await res.json()) as { error_code?: string; error?: string } };
    };
    const batch = (id: string) => Buffer.from(JSON.stringify({ operations: [{ op: 'put', kind: 'tds', id, value: echoTool(id, UPSTREAM) }] }));
    assert.equal((await send(gzipSync(batch('zipped')), 'gzip')).status, 200);
    assert.equal((await gw.admin('GET', '/admin/tds/zipped')).status, 200, 'a whole gzip body is written');

    const whole = gzipSync(batch('cut'));
    const broken: Array<[string, Buffer]> = [
      ['gzip', Buffer.from('garbage\n')],
      ['gzip', whole.subarray(0, whole.length - 12)],
      ['GZIP', Buffer.from('garbage')],
      ['deflate', Buffer.from('garbage')],
      ['br', Buffer.from('garbage that is not brotli')],
    ];
    for (const [encoding, body] of broken) {
      const answer = await send(body, encoding);
      assert.equal(answer.status, 400, `${encoding}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error_code, 'INVALID_JSON');
      assert.match(answer.body.error ?? '', new RegExp(`does not decode as its Content-Encoding \\(${encoding.toLowerCase()}\\) says`));
    }
    assert.equal((await gw.admin('GET', '/admin/tds/cut')).status, 404, 'nothing of a cut body is written');
    const unknown = await send(Buffer.from('{}'), 'compress');
    assert.equal(unknown.status, 415);
    assert.equal(unknown.body.error_code, 'UNSUPPORTED_MEDIA_TYPE');
  });
});
