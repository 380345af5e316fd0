import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createRecordingLogger, GatewayError } from '@dynmcp/plugin';
import type { JsonObject, ToolCallOutcome } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream, type UpstreamRoute } from '@dynmcp/testing';
import { HTTP_CLIENTS, createHttpExecutor } from './http-executor.js';
import { callContext, firstText, httpTool } from '../test-support/tool-fixtures.js';

const SECRET = 'sk-live/9f8e+7d6c';
const grouped = { type: 'object', properties: { query: { type: 'object' } } };

// Each path answers the way real APIs leak their request URL: as the final URL of a binary
// answer, in a redirect, in an error message, in pagination links, in an event stream.
const route: UpstreamRoute = (hit, res) => {
  const self = `http://${hit.headers.host}${hit.url}`;
  switch (hit.pathname) {
    case '/v1/files/start':
      res.writeHead(302, { location: `/v1/files/bin?api_key=${encodeURIComponent(SECRET)}&copy=${encodeURIComponent(SECRET)}&page=2` }).end();
      return;
    case '/v1/files/bin':
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from([0, 0xff, 1]));
      return;
    case '/v1/files/missing':
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such file at ${self} (key ${SECRET})`);
      return;
    case '/v1/files/list':
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [], next: `${self}&page=2` }));
      return;
    case '/v1/files/events':
      res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`event: result\ndata: {"done": "${SECRET}"}\n\n`);
      return;
    default:
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  }
};

for (const client of HTTP_CLIENTS) describe(`http executor: credentials in the query string (${client})`, () => {
  let upstream: TestUpstream;
  const executor = createHttpExecutor({
    defaultTimeoutMs: 5_000,
    maxResponseBytes: 100_000,
    env: { FILES_KEY: SECRET, DYNMCP_ADMIN_KEY: 'x' },
    toolEnvAllow: ['FILES_*'],
    client,
    egress: { allow: ['127.0.0.1'] },
  });

  before(async () => {
    upstream = await startUpstream(route);
  });
  beforeEach(() => {
    upstream.hits.length = 0;
  });
  after(async () => {
    await executor.close();
    await upstream.close();
  });

  const tool = (path: string, query: JsonObject = { api_key: '${env:FILES_KEY}' }) =>
    httpTool({ domain: upstream.url, path, input_schema: grouped, ext_info: { query, result: { as: 'auto' } } });

  async function call(path: string, args: Record<string, unknown> = { query: { q: 'cats' } }): Promise<{ outcome: ToolCallOutcome; logged: string }> {
    const log = createRecordingLogger();
    const outcome = await executor.execute(tool(path), args, { ...callContext(), logger: log.logger });
    return { outcome, logged: JSON.stringify(log.lines) };
  }

  const leaks = (text: string) => [SECRET, encodeURIComponent(SECRET), new URLSearchParams({ k: SECRET }).toString().slice(2)].some((form) => text.includes(form));

  it('sends the resolved credential after the arguments', async () => {
    const { outcome, logged } = await call('/v1/files/plain');
    assert.equal(firstText(outcome.result), 'ok');
    const [hit] = upstream.hits;
    assert.equal(hit?.query.get('api_key'), SECRET);
    assert.equal(hit?.query.get('q'), 'cats');
    assert.ok(!leaks(logged), logged);
  });

  it('keeps the credential out of a resource uri, also after a redirect that repeats it', async () => {
    const { outcome, logged } = await call('/v1/files/start');
    const block = outcome.result.content[0] as { type: string; resource: { uri: string } };
    assert.equal(block.type, 'resource');
    assert.equal(block.resource.uri, `${upstream.url}/v1/files/bin?page=2`);
    assert.ok(!leaks(JSON.stringify(outcome)), JSON.stringify(outcome));
    assert.ok(!leaks(logged), logged);
  });

  it('redacts the credential from error excerpts, JSON answers and event-stream results', async () => {
    for (const path of ['/v1/files/missing', '/v1/files/list', '/v1/files/events']) {
      const { outcome, logged } = await call(path);
      const text = JSON.stringify(outcome);
      assert.ok(!leaks(text), `${path}: ${text}`);
      assert.ok(!leaks(logged), `${path}: ${logged}`);
      assert.match(firstText(outcome.result), /\[redacted\]/, path);
    }
    // The redacted JSON still parses.
    const { outcome } = await call('/v1/files/list');
    assert.deepEqual(JSON.parse(firstText(outcome.result)), { items: [], next: `${upstream.url}/v1/files/list?q=cats&api_key=[redacted]&page=2` });
  });

  it('refuses an argument that would replace the credential, naming no value', async () => {
    const { outcome } = await call('/v1/files/plain', { query: { api_key: 'mine' } });
    assert.equal(outcome.result.isError, true);
    assert.equal(firstText(outcome.result), 'query parameter "api_key" is set by the tool definition and cannot be overridden');
    assert.equal(upstream.hits.length, 0);
  });

  it('names an unset variable without sending anything', async () => {
    const outcome = await executor.execute(tool('/v1/files/plain', { key: '${env:FILES_MISSING}' }), {}, callContext());
    assert.equal(firstText(outcome.result), 'environment variable FILES_MISSING is not set (needed by query parameter "key" of this tool)');
    assert.equal(upstream.hits.length, 0);
  });

  it('checks ext_info.query at write time like headers', () => {
    const refused = (query: unknown, pattern: RegExp) =>
      assert.throws(
        () => executor.validate(httpTool({ domain: upstream.url, path: '/v1/x', ext_info: { query } as JsonObject })),
        (error: unknown) => error instanceof GatewayError && error.code === 'INVALID_PAYLOAD' && pattern.test(error.message),
      );
    refused({ key: '${env:OTHER}' }, /^ext_info.query.key: \$\{env:OTHER\} is not on the list of variables tools may read/);
    refused({ key: '${env:DYNMCP_ADMIN_KEY}' }, /gateway's own settings/);
    refused({ key: '${KEY}' }, /must start a reference/);
    refused({ key: 1 }, /^ext_info.query.key must be a string$/);
    refused({ key: 'a\nb' }, /CR, LF or NUL/);
    refused(['key'], /^ext_info.query must be an object/);
    executor.validate(httpTool({ domain: upstream.url, path: '/v1/x', ext_info: { query: { key: '${env:FILES_KEY}', 'api-version': '2024-01-01' } } }));
  });
});
