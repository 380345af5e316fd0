import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';
import { HTTP_CLIENTS, createHttpExecutor, MAX_REDIRECTS } from './http-executor.js';
import { callContext, firstText, httpTool } from '../test-support/tool-fixtures.js';

// 1×1 transparent PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64');

for (const client of HTTP_CLIENTS) describe(`http executor: upstream answers (${client})`, () => {
  let upstream: TestUpstream;
  let elsewhere: TestUpstream;
  const executor = createHttpExecutor({ defaultTimeoutMs: 5_000, maxResponseBytes: 1_000_000, env: {}, client, egress: { allow: ['127.0.0.1'] } });

  // Routes by path, so one upstream serves every case of this suite.
  const routes: Record<string, (request: UpstreamHit, res: http.ServerResponse) => void> = {
    '/json': (_request, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end('{"id":7,"name":"seven"}');
    },
    '/json-array': (_request, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('[1,2]');
    },
    '/bad-json': (_request, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"id": 7,');
    },
    '/png': (_request, res) => {
      res.setHeader('content-type', 'image/png');
      res.end(PNG);
    },
    '/text': (_request, res) => {
      res.setHeader('content-type', 'text/plain; charset=iso-8859-1');
      res.end(Buffer.from([0x63, 0x61, 0x66, 0xe9])); // "café" in Latin-1
    },
    '/binary': (_request, res) => {
      res.setHeader('content-type', 'application/octet-stream');
      res.end(Buffer.from([0x00, 0xff, 0xfe, 0x01]));
    },
    '/empty': (_request, res) => {
      res.statusCode = 204;
      res.end();
    },
    '/fail': (_request, res) => {
      res.statusCode = 500;
      res.setHeader('content-type', 'text/html');
      res.setHeader('x-upstream-secret', 'header-canary');
      res.end(`<html><body>${'broken '.repeat(1000)}</body></html>`);
    },
    '/start': (_request, res) => {
      res.writeHead(302, { location: '/json' }).end();
    },
    '/loop': (_request, res) => {
      res.writeHead(302, { location: '/loop' }).end();
    },
    '/away': (_request, res) => {
      res.writeHead(302, { location: `${elsewhere.url}/steal` }).end();
    },
    '/reset': (request, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
      void request;
    },
  };

  before(async () => {
    elsewhere = await startUpstream();
    upstream = await startUpstream((request, res) => {
      const route = routes[request.pathname];
      if (route === undefined) res.writeHead(404).end('no route');
      else route(request, res);
    });
  });
  after(async () => {
    await executor.close();
    await upstream.close();
    await elsewhere.close();
  });
  beforeEach(() => {
    upstream.hits.length = 0;
    elsewhere.hits.length = 0;
  });

  const call = (path: string, extra: { output_schema?: Record<string, unknown> } = {}) =>
    executor.execute(httpTool({ domain: upstream.url, path, ...extra }), {}, callContext());

  it('returns JSON as text, and as structuredContent when the tool has an output_schema', async () => {
    const plain = await call('/json');
    assert.deepEqual(plain.result, { content: [{ type: 'text', text: '{"id":7,"name":"seven"}' }] });
    const structured = await call('/json', { output_schema: { type: 'object' } });
    assert.deepEqual(structured.result.structuredContent, { id: 7, name: 'seven' });
    const array = await call('/json-array', { output_schema: { type: 'object' } });
    assert.equal(array.result.structuredContent, undefined);
  });

  it('answers invalid JSON under a JSON content type with an error', async () => {
    const outcome = await call('/bad-json');
    assert.equal(outcome.result.isError, true);
    assert.match(firstText(outcome.result), /^upstream answered 200 OK with invalid JSON: /);
  });

  it('returns image/png as an image block', async () => {
    const outcome = await call('/png');
    assert.deepEqual(outcome.result.content, [{ type: 'image', data: PNG.toString('base64'), mimeType: 'image/png' }]);
  });

  it('decodes text with its declared charset', async () => {
    assert.equal(firstText((await call('/text')).result), 'café');
  });

  it('returns undecodable bytes as a resource blob with the upstream URL', async () => {
    const outcome = await call('/binary');
    assert.deepEqual(outcome.result.content, [
      { type: 'resource', resource: { uri: `${upstream.url}/binary`, mimeType: 'application/octet-stream', blob: 'AP/+AQ==' } },
    ]);
  });

  it('returns an empty text block for an empty 2xx answer', async () => {
    const outcome = await call('/empty');
    assert.equal(outcome.upstreamStatus, 204);
    assert.deepEqual(outcome.result, { content: [{ type: 'text', text: '' }] });
  });

  it('answers a 500 with an error carrying the status and a bounded excerpt, no headers', async () => {
    const outcome = await call('/fail');
    assert.equal(outcome.upstreamStatus, 500);
    assert.equal(outcome.result.isError, true);
    const text = firstText(outcome.result);
    assert.match(text, /^upstream answered 500 Internal Server Error: <html><body>broken /);
    assert.ok(Buffer.byteLength(text) < 2048 + 100, `excerpt too long: ${Buffer.byteLength(text)}`);
    assert.doesNotMatch(text, /header-canary/);
  });

  it('follows a redirect on the same host', async () => {
    const outcome = await call('/start');
    assert.equal(outcome.upstreamStatus, 200);
    assert.deepEqual(
      upstream.hits.map((request) => request.pathname),
      ['/start', '/json'],
    );
  });

  it('stops after too many redirects', async () => {
    const outcome = await call('/loop');
    assert.equal(outcome.result.isError, true);
    assert.equal(firstText(outcome.result), `upstream redirected more than ${MAX_REDIRECTS} times`);
    assert.equal(upstream.hits.length, MAX_REDIRECTS + 1);
  });

  it('refuses a redirect to another host, which gets no request', async () => {
    const outcome = await call('/away');
    assert.equal(outcome.result.isError, true);
    assert.equal(outcome.upstreamStatus, 302);
    const host = new URL(elsewhere.url).host;
    assert.equal(firstText(outcome.result), `upstream redirected to another host (${host}); not followed`);
    assert.equal(elsewhere.hits.length, 0);
  });

  it('answers a reset in the middle of the body with an error, and the next call succeeds', async () => {
    const reset = await call('/reset');
    assert.equal(reset.result.isError, true);
    assert.match(firstText(reset.result), /^upstream request failed: /);
    assert.equal(reset.upstreamStatus, 200);
    const next = await call('/json');
    assert.equal(next.result.isError, undefined);
  });

  it('answers a refused connection with its code', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const tool = httpTool({ domain: `http://127.0.0.1:${port}`, path: '/x' });
    const outcome = await executor.execute(tool, {}, callContext());
    assert.deepEqual(outcome, { result: { content: [{ type: 'text', text: 'upstream request failed: ECONNREFUSED' }], isError: true } });
  });
});
