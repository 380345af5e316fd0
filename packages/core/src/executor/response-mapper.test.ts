import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXCERPT_BYTES, bodyExcerpt, mapEventStreamOutcome, mapUpstreamAnswer } from './response-mapper.js';
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

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00]);

/** A multipart body of `parts` (header block, body) with boundary `b0`. */
function multipart(parts: Array<[string, string | Buffer]>, lineEnd = '\r\n'): Buffer {
  const chunks: Buffer[] = [Buffer.from(`preamble${lineEnd}`)];
  for (const [headers, body] of parts) {
    chunks.push(Buffer.from(`--b0${lineEnd}${headers}${lineEnd}`), Buffer.from(body), Buffer.from(lineEnd));
  }
  chunks.push(Buffer.from(`--b0--${lineEnd}epilogue`));
  return Buffer.concat(chunks);
}

describe('mapUpstreamAnswer: multipart answers', () => {
  const mixed = multipart([
    ['Content-Type: text/plain; charset=utf-8\r\n', 'Several blocks:'],
    ['Content-Type: image/png\r\n', PNG],
    ['Content-Type: application/json\r\nContent-Location: test://report.json\r\n', '{"a":1}'],
    ['Content-Type: application/octet-stream\r\nContent-Location: file:///data.bin\r\n', Buffer.from([0, 1])],
    ['Content-Type: application/json\r\n', '[1,2]'],
    ['', 'no headers: text/plain by default'],
  ]);

  it('maps each part by its own type; Content-Location makes an embedded resource of that uri', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'multipart/mixed; boundary="b0"', body: mixed }), plain);
    assert.deepEqual(outcome.result.content, [
      { type: 'text', text: 'Several blocks:' },
      { type: 'image', data: PNG.toString('base64'), mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://report.json', mimeType: 'application/json', text: '{"a":1}' } },
      { type: 'resource', resource: { uri: 'file:///data.bin', mimeType: 'application/octet-stream', blob: 'AAE=' } },
      { type: 'text', text: '[1,2]' },
      { type: 'text', text: 'no headers: text/plain by default' },
    ]);
    assert.equal(outcome.result.isError, undefined);
  });

  it('reads LF-only bodies, multipart/related and an unquoted boundary', () => {
    const body = multipart([['Content-Type: text/plain\n', 'one']], '\n');
    const outcome = mapUpstreamAnswer(answer({ contentType: 'multipart/related; type=text/plain; boundary=b0', body }), plain);
    assert.deepEqual(outcome.result.content, [{ type: 'text', text: 'one' }]);
  });

  it('answers an unreadable multipart body with an error result', () => {
    const noBoundary = mapUpstreamAnswer(answer({ contentType: 'multipart/mixed', body: mixed }), plain);
    assert.equal(noBoundary.result.isError, true);
    assert.match((noBoundary.result.content[0] as { text: string }).text, /multipart\/mixed body that could not be read/);
    const truncated = mapUpstreamAnswer(answer({ contentType: 'multipart/mixed; boundary=b0', body: '--b0\r\nContent-Type: text/plain\r\n\r\nno end' }), plain);
    assert.equal(truncated.result.isError, true);
  });
});

describe('mapUpstreamAnswer: declared result mapping (ext_info.result)', () => {
  it('wraps a text answer as an embedded resource with the declared uri', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'text/plain', body: 'the readme' }), {
      hasOutputSchema: false,
      result: { as: 'resource', uri: 'docs://readme' },
    });
    assert.deepEqual(outcome.result.content, [{ type: 'resource', resource: { uri: 'docs://readme', mimeType: 'text/plain', text: 'the readme' } }]);
  });

  it('wraps binary as a blob resource at the upstream URL when no uri is declared', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'application/pdf', body: Buffer.from([0x25, 0x50, 0x00]) }), {
      hasOutputSchema: false,
      result: { as: 'resource' },
    });
    assert.deepEqual(outcome.result.content, [
      { type: 'resource', resource: { uri: 'https://api.example.com/x', mimeType: 'application/pdf', blob: 'JVAA' } },
    ]);
  });

  it('keeps structuredContent for JSON wrapped as a resource when the tool has an output schema', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'application/json', body: '{"id":1}' }), {
      hasOutputSchema: true,
      result: { as: 'resource', uri: 'app://item/1' },
    });
    assert.deepEqual(outcome.result, {
      content: [{ type: 'resource', resource: { uri: 'app://item/1', mimeType: 'application/json', text: '{"id":1}' } }],
      structuredContent: { id: 1 },
    });
  });

  it('lets mime_type name what an octet-stream upstream really sends', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'application/octet-stream', body: PNG }), {
      hasOutputSchema: false,
      result: { as: 'image', mimeType: 'image/png' },
    });
    assert.deepEqual(outcome.result.content, [{ type: 'image', data: PNG.toString('base64'), mimeType: 'image/png' }]);
    const auto = mapUpstreamAnswer(answer({ contentType: 'application/octet-stream', body: PNG }), {
      hasOutputSchema: false,
      result: { as: 'auto', mimeType: 'audio/wav' },
    });
    assert.deepEqual(auto.result.content, [{ type: 'audio', data: PNG.toString('base64'), mimeType: 'audio/wav' }]);
  });

  it('refuses to call something an image that the upstream does not say is one', () => {
    const outcome = mapUpstreamAnswer(answer({ contentType: 'text/html', body: '<p>login</p>' }), {
      hasOutputSchema: false,
      result: { as: 'image' },
    });
    assert.equal(outcome.result.isError, true);
    assert.match((outcome.result.content[0] as { text: string }).text, /upstream answered text\/html, not image content/);
  });

  it('forces text whatever the type, and never wraps an upstream error', () => {
    const text = mapUpstreamAnswer(answer({ contentType: 'application/xml', body: '<a/>' }), { hasOutputSchema: false, result: { as: 'text' } });
    assert.deepEqual(text.result.content, [{ type: 'text', text: '<a/>' }]);
    const failed = mapUpstreamAnswer(answer({ status: 503, statusText: 'Service Unavailable', body: 'busy' }), {
      hasOutputSchema: false,
      result: { as: 'resource', uri: 'docs://x' },
    });
    assert.equal(failed.result.isError, true);
  });
});

describe('mapEventStreamOutcome', () => {
  const meta = { status: 200, statusText: 'OK', url: 'https://api.example.com/stream' };

  it('maps a JSON result like a JSON answer (structured content included) and text as text', () => {
    assert.deepEqual(mapEventStreamOutcome({ kind: 'result', data: '{"done":true}' }, meta, { hasOutputSchema: true }), {
      result: { content: [{ type: 'text', text: '{"done":true}' }], structuredContent: { done: true } },
      upstreamStatus: 200,
    });
    assert.deepEqual(mapEventStreamOutcome({ kind: 'result', data: 'finished' }, meta, plain).result.content, [{ type: 'text', text: 'finished' }]);
    assert.deepEqual(mapEventStreamOutcome({ kind: 'messages', data: 'a\nb' }, meta, plain).result.content, [{ type: 'text', text: 'a\nb' }]);
  });

  it('maps error events and streams without a result to error results', () => {
    const error = mapEventStreamOutcome({ kind: 'error', message: 'quota exceeded' }, meta, plain);
    assert.deepEqual(error.result, { content: [{ type: 'text', text: 'upstream reported an error: quota exceeded' }], isError: true });
    const empty = mapEventStreamOutcome({ kind: 'empty' }, meta, plain);
    assert.equal(empty.result.isError, true);
    assert.match((empty.result.content[0] as { text: string }).text, /ended without a result event/);
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
