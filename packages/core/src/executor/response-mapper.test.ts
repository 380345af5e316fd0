import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCERPT_BYTES, bodyExcerpt, mapUpstreamAnswer } from './response-mapper.js';
import type { UpstreamAnswer } from './response-mapper.js';

function answer(fields: Partial<Omit<UpstreamAnswer, 'body'>> & { body: Buffer | string }): UpstreamAnswer {
  const body = typeof fields.body === 'string' ? Buffer.from(fields.body) : fields.body;
  return { status: 200, statusText: 'OK', contentType: undefined, url: 'https://api.example.com/x', ...fields, body };
}

const plain = { hasOutputSchema: false };

describe('mapUpstreamAnswer', () => {
  it('maps +json types as JSON and keeps the text as received', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'application/problem+json', body: '{ "a" : 1 }' }), { hasOutputSchema: true });
    assert.deepEqual(outcome, {
      result: { content: [{ type: 'text', text: '{ "a" : 1 }' }], structuredContent: { a: 1 } },
      upstreamStatus: 200,
    });
  });

  it('maps audio to an audio block without content-type parameters', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'audio/mpeg; rate=44100', body: Buffer.from([1, 2, 3]) }), plain);
    assert.deepEqual(outcome.result.content, [{ type: 'audio', data: 'AQID', mimeType: 'audio/mpeg' }]);
  });

  it('maps an unknown type to text when it is UTF-8, else to a blob without mimeType when none was sent', () => {
    assert.deepEqual(mapUpstreamAnswer(answer({ contentType: 'application/xml', body: '<a>é</a>' }), plain).result.content, [
      { type: 'text', text: '<a>é</a>' },
    ]);
    assert.deepEqual(mapUpstreamAnswer(answer({ body: Buffer.from([0xc3, 0x28]) }), plain).result.content, [
      { type: 'resource', resource: { uri: 'https://api.example.com/x', blob: 'wyg=' } },
    ]);
  });

  it('falls back to UTF-8 for an unknown charset label', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'text/plain; charset=x-unknown', body: 'héllo' }), plain);
    assert.deepEqual(outcome.result.content, [{ type: 'text', text: 'héllo' }]);
  });

  it('maps non-2xx answers to errors with the status line', () => {
    const outcome = mapUpstreamAnswer(answer({ status: 404, statusText: 'Not Found', body: '{"error":"no such user"}' }), plain);
    assert.deepEqual(outcome, {
      result: { content: [{ type: 'text', text: 'upstream answered 404 Not Found: {"error":"no such user"}' }], isError: true },
      upstreamStatus: 404,
    });
  });
});

describe('bodyExcerpt', () => {
  it('cuts at 2 KiB without splitting a character and marks the cut', () => {
    const excerpt = bodyExcerpt(Buffer.from('é'.repeat(EXCERPT_BYTES)), 'text/plain');
    assert.ok(excerpt.endsWith('…'));
    assert.ok(Buffer.byteLength(excerpt) <= EXCERPT_BYTES + Buffer.byteLength('…'));
    assert.doesNotMatch(excerpt, /\uFFFD/);
  });

  it('blanks control characters and describes binary bodies', () => {
    assert.equal(bodyExcerpt(Buffer.from('line\u001b[31m\r\nnext'), undefined), 'line [31m \nnext');
    assert.equal(bodyExcerpt(Buffer.from([0, 1, 2]), 'image/png'), '<3 bytes of image/png>');
    assert.equal(bodyExcerpt(Buffer.alloc(0), undefined), '(empty body)');
  });
});
