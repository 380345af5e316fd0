import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { JsonObject } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';
import { HTTP_CLIENTS, createHttpExecutor } from './http-executor.js';
import { callContext, firstText, httpTool } from '../test-support/tool-fixtures.js';

const grouped = { type: 'object', properties: { body: { type: 'object' }, headers: { type: 'object' } } };
// Bytes that are not text and look like multipart framing; all below 0x80, so the test upstream's
// UTF-8 reading of the body keeps them.
const FILE_BYTES = Buffer.from('\0\x01--boundary\r\n\r\nline\x7f', 'latin1');

/** Parses what the upstream received the way a server framework would (WHATWG `Request#formData`). */
async function receivedForm(hit: UpstreamHit): Promise<FormData> {
  return new Request('http://upstream.invalid/', { method: 'POST', headers: { 'content-type': hit.headers['content-type'] ?? '' }, body: hit.body }).formData();
}

for (const client of HTTP_CLIENTS) describe(`http executor: request body encodings (${client})`, () => {
  let upstream: TestUpstream;
  const executor = createHttpExecutor({ defaultTimeoutMs: 5_000, maxResponseBytes: 4_096, env: {}, client, egress: { allow: ['127.0.0.1'] } });

  before(async () => {
    upstream = await startUpstream();
  });
  beforeEach(() => {
    upstream.hits.length = 0;
  });
  after(async () => {
    await executor.close();
    await upstream.close();
  });

  const call = (content_type: string, args: Record<string, unknown>, method = 'POST') =>
    executor.execute(
      httpTool({ domain: upstream.url, method, path: '/v1/upload', input_schema: grouped, ext_info: { body: { content_type } } as JsonObject }),
      args,
      callContext(),
    );

  it('sends a form-urlencoded body: repeated keys for arrays, brackets for nested objects, no nulls', async () => {
    const outcome = await call('application/x-www-form-urlencoded', {
      body: { name: 'Mia & Co', tags: ['a', 'b'], meta: { plan: 'pro', limits: { seats: 3 } }, off: false, gone: null },
    });
    assert.equal(outcome.result.isError, undefined, firstText(outcome.result));
    const [hit] = upstream.hits;
    assert.ok(hit);
    assert.equal(hit.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(hit.body);
    assert.deepEqual([...form], [['name', 'Mia & Co'], ['tags', 'a'], ['tags', 'b'], ['meta[plan]', 'pro'], ['meta[limits][seats]', '3'], ['off', 'false']]);
    assert.equal(Number(hit.headers['content-length']), Buffer.byteLength(hit.body));
  });

  it('sends multipart/form-data: text parts, JSON parts and file parts from base64', async () => {
    const outcome = await call('multipart/form-data', {
      body: {
        title: 'Holiday',
        count: 2,
        meta: { album: 'x', tags: ['a'] },
        photo: { filename: 'a "b".png', content_base64: FILE_BYTES.toString('base64'), content_type: 'image/png' },
        extra: [{ content_base64: Buffer.from('one').toString('base64') }, { content_base64: Buffer.from('two').toString('base64'), filename: 'two.txt' }],
        skipped: null,
      },
      // A header argument cannot replace the boundary the body was encoded with.
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(outcome.result.isError, undefined, firstText(outcome.result));
    const [hit] = upstream.hits;
    assert.ok(hit);
    assert.match(hit.headers['content-type'] ?? '', /^multipart\/form-data; boundary=dynmcp-[0-9a-f]{32}$/);
    const form = await receivedForm(hit);
    assert.deepEqual([...form.keys()], ['title', 'count', 'meta', 'photo', 'extra', 'extra']);
    assert.equal(form.get('title'), 'Holiday');
    assert.equal(form.get('count'), '2');
    // A part without filename is a field to form parsers; its type is visible in the raw part.
    assert.deepEqual(JSON.parse(form.get('meta') as string), { album: 'x', tags: ['a'] });
    assert.match(hit.body, /content-disposition: form-data; name="meta"\r\ncontent-type: application\/json\r\n\r\n\{"album"/);
    const photo = form.get('photo') as File;
    // Quotes travel percent-encoded (RFC 7578 §4.2, HTML's rule) and parsers decode them.
    assert.equal(photo.name, 'a "b".png');
    assert.match(hit.body, /filename="a %22b%22.png"/);
    assert.equal(photo.type, 'image/png');
    assert.deepEqual(Buffer.from(await photo.arrayBuffer()), FILE_BYTES);
    const extra = form.getAll('extra') as File[];
    assert.deepEqual(await Promise.all(extra.map((file) => file.text())), ['one', 'two']);
    // Without filename the property name stands in; without content_type the bytes are octet-stream.
    assert.deepEqual(extra.map((file) => [file.name, file.type]), [['extra', 'application/octet-stream'], ['two.txt', 'application/octet-stream']]);
  });

  it('keeps JSON the default', async () => {
    const outcome = await call('application/json', { body: { a: [1] } });
    assert.equal(outcome.result.isError, undefined);
    assert.equal(upstream.hits[0]?.headers['content-type'], 'application/json');
    assert.equal(upstream.hits[0]?.body, '{"a":[1]}');
  });

  it('refuses bodies the encoding cannot carry, and encoded bodies over the cap, sending nothing', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['application/x-www-form-urlencoded', 'text', /"body" must be an object to be sent as application\/x-www-form-urlencoded/],
      ['application/x-www-form-urlencoded', { rows: [{ a: 1 }] }, /"rows" is an array holding objects or arrays/],
      ['multipart/form-data', [1, 2], /"body" must be an object to be sent as multipart\/form-data/],
      ['multipart/form-data', { f: { content_base64: 'not base64!' } }, /"f": content_base64 must be base64 text/],
      ['multipart/form-data', { f: { content_base64: '', content_type: 'text/plain\r\nx-evil: 1' } }, /"f": content_type must be a media type/],
      // Percent-encoding triples these bytes: 2 000 characters become 6 000 bytes, over the 4 096 cap.
      ['application/x-www-form-urlencoded', { text: '"'.repeat(2_000) }, /encoded application\/x-www-form-urlencoded body is larger than 4096 bytes; nothing was sent/],
      ['multipart/form-data', { f: { content_base64: Buffer.alloc(5_000).toString('base64') } }, /larger than 4096 bytes/],
    ];
    for (const [type, body, message] of cases) {
      const outcome = await call(type, { body });
      assert.equal(outcome.result.isError, true, String(message));
      assert.match(firstText(outcome.result), message);
    }
    assert.equal(upstream.hits.length, 0);
  });
});
