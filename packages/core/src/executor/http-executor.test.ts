import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { createHttpExecutor } from './http-executor.js';
import { createRecordingLogger } from '@dynmcp/plugin';
import { callContext, firstText, httpTool } from '../test-support/tool-fixtures.js';

const GROUPED_SCHEMA = {
  type: 'object',
  properties: { path: { type: 'object' }, query: { type: 'object' }, body: {}, headers: { type: 'object' } },
};

describe('http executor: building the upstream request', () => {
  let upstream: TestUpstream;
  const env: Record<string, string | undefined> = {};
  const executor = createHttpExecutor({
    defaultTimeoutMs: 5_000,
    maxResponseBytes: 1_000_000,
    env,
    toolEnvAllow: ['TEST_*'],
    egress: { allow: ['127.0.0.1'] },
  });

  before(async () => {
    upstream = await startUpstream();
  });
  after(async () => {
    await executor.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.hits.length = 0;
  });

  it('sends grouped path and query arguments', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/users/{id}', input_schema: GROUPED_SCHEMA });
    const outcome = await executor.execute(tool, { path: { id: 42 }, query: { limit: 10, q: 'a b&c' } }, callContext());
    assert.equal(outcome.result.isError, undefined);
    assert.equal(outcome.upstreamStatus, 200);
    const [request] = upstream.hits;
    assert.equal(request?.method, 'GET');
    assert.equal(request?.pathname, '/v1/users/42');
    assert.equal(request?.query.get('limit'), '10');
    assert.equal(request?.query.get('q'), 'a b&c');
    assert.equal(JSON.parse(firstText(outcome.result)).url, request?.url);
  });

  it('sends flat GET arguments: placeholders fill the path, the rest goes to the query', async () => {
    const tool = httpTool({
      domain: upstream.url,
      path: '/v1/emails/{email_id}',
      input_schema: { type: 'object', properties: { email_id: { type: 'string' }, verbose: { type: 'boolean' } } },
    });
    await executor.execute(tool, { email_id: 'e-1', verbose: true }, callContext());
    assert.equal(upstream.hits[0]?.url, '/v1/emails/e-1?verbose=true');
  });

  it('sends flat POST arguments as a JSON body', async () => {
    const tool = httpTool({
      domain: upstream.url,
      method: 'POST',
      path: '/v1/teams/:team/emails',
      input_schema: { type: 'object', properties: { team: {}, to: {}, tags: {} } },
    });
    await executor.execute(tool, { team: 't1', to: 'a@example.com', tags: ['x', 'y'] }, callContext());
    const [request] = upstream.hits;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.pathname, '/v1/teams/t1/emails');
    assert.equal(request?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(request?.body ?? ''), { to: 'a@example.com', tags: ['x', 'y'] });
  });

  it('sends a grouped body with PATCH and no body with a flat DELETE', async () => {
    const patch = httpTool({ domain: upstream.url, method: 'PATCH', path: '/v1/items/{id}', input_schema: GROUPED_SCHEMA });
    await executor.execute(patch, { path: { id: 'i1' }, body: { name: 'n' } }, callContext());
    const remove = httpTool({ domain: upstream.url, method: 'DELETE', path: '/v1/items/:id' });
    const outcome = await executor.execute(remove, { id: 'i1', force: true }, callContext());
    assert.equal(outcome.upstreamStatus, 200);
    assert.deepEqual(
      upstream.hits.map((request) => [request.method, request.url, request.body]),
      [
        ['PATCH', '/v1/items/i1', '{"name":"n"}'],
        ['DELETE', '/v1/items/i1?force=true', ''],
      ],
    );
  });

  it('fills :name and {name} placeholders, including a :name with a literal suffix', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/{org}/files/:file.json', input_schema: GROUPED_SCHEMA });
    await executor.execute(tool, { path: { org: 'acme', file: 'report' } }, callContext());
    assert.equal(upstream.hits[0]?.pathname, '/v1/acme/files/report.json');
  });

  it('keeps a colon inside a segment literal', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/models/{model}:generate' });
    await executor.execute(tool, { model: 'm1' }, callContext());
    assert.equal(upstream.hits[0]?.pathname, '/v1/models/m1:generate');
  });

  it('encodes numbers, booleans, arrays, objects and nulls', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/{n}/{b}', input_schema: GROUPED_SCHEMA });
    await executor.execute(
      tool,
      { path: { n: 3.5, b: false }, query: { ids: [1, 2, 3], filter: { a: 1 }, on: true, skip: null, zero: 0 } },
      callContext(),
    );
    const [request] = upstream.hits;
    assert.equal(request?.pathname, '/v1/3.5/false');
    assert.deepEqual(request?.query.getAll('ids'), ['1', '2', '3']);
    assert.equal(request?.query.get('filter'), '{"a":1}');
    assert.equal(request?.query.get('on'), 'true');
    assert.equal(request?.query.has('skip'), false);
    assert.equal(request?.query.get('zero'), '0');
  });

  it('keeps hostile path values inside their segment or refuses them', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/users/{id}/profile' });
    const hostile = ['..', '.', '', 'a/b', '%2e%2e', '../../admin', '?x=1', '#f', '@evil.example', '..%2f..%2fadmin', 'a\r\nX-Injected: 1'];
    for (const id of hostile) {
      upstream.hits.length = 0;
      const outcome = await executor.execute(tool, { id }, callContext());
      for (const request of upstream.hits) {
        assert.match(request.pathname, /^\/v1\/users\/[^/]+\/profile$/, `value ${JSON.stringify(id)}`);
        assert.equal(decodeURIComponent(request.pathname.split('/')[3] ?? ''), id, `value ${JSON.stringify(id)}`);
        assert.equal(request.url.includes('?'), false);
        assert.equal(request.headers['x-injected'], undefined);
      }
      // Dot pieces, written or encoded, between slashes or not: a server that decodes %2F would climb with them.
      const refused = ['..', '.', '', '%2e%2e', '../../admin', '..%2f..%2fadmin'].includes(id);
      assert.equal(outcome.result.isError, refused ? true : undefined, `value ${JSON.stringify(id)}`);
      assert.equal(upstream.hits.length, refused ? 0 : 1, `value ${JSON.stringify(id)}`);
    }
  });

  it('refuses a path value that is an object', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/users/{id}' });
    const outcome = await executor.execute(tool, { id: { toString: 'x' } }, callContext());
    assert.equal(outcome.result.isError, true);
    assert.equal(upstream.hits.length, 0);
  });

  it('refuses CR/LF in a header argument and forbidden header names, without echoing values', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/x', input_schema: GROUPED_SCHEMA });
    const crlf = await executor.execute(tool, { headers: { 'x-trace': 'secret-ish\r\nX-Injected: 1' } }, callContext());
    assert.equal(crlf.result.isError, true);
    assert.doesNotMatch(firstText(crlf.result), /secret-ish|Injected/);
    const host = await executor.execute(tool, { headers: { Host: 'evil.example' } }, callContext());
    assert.equal(host.result.isError, true);
    assert.equal(upstream.hits.length, 0);
    const ok = await executor.execute(tool, { headers: { 'X-Trace': 't-1' } }, callContext());
    assert.equal(ok.result.isError, undefined);
    assert.equal(upstream.hits[0]?.headers['x-trace'], 't-1');
  });

  it('resolves ${env:NAME} headers at call time and never returns their values', async () => {
    const tool = httpTool({
      domain: upstream.url,
      path: '/v1/me',
      ext_info: { headers: { Authorization: 'Bearer ${env:TEST_API_KEY}' } },
    });
    const log = createRecordingLogger();
    const context = { ...callContext(), logger: log.logger };
    env['TEST_API_KEY'] = 'canary-one';
    const first = await executor.execute(tool, {}, context);
    env['TEST_API_KEY'] = 'canary-two';
    const second = await executor.execute(tool, {}, context);
    assert.ok(log.lines.length > 0, 'the call logs a debug line');
    assert.doesNotMatch(JSON.stringify(log.lines), /canary/);
    assert.deepEqual(
      upstream.hits.map((request) => request.headers.authorization),
      ['Bearer canary-one', 'Bearer canary-two'],
    );
    assert.doesNotMatch(JSON.stringify([first, second]), /canary/);
  });

  it('refuses to override a configured header from the arguments', async () => {
    const tool = httpTool({
      domain: upstream.url,
      path: '/v1/me',
      input_schema: GROUPED_SCHEMA,
      ext_info: { headers: { 'X-Api-Key': 'fixed' } },
    });
    const outcome = await executor.execute(tool, { headers: { 'x-api-key': 'mine' } }, callContext());
    assert.equal(outcome.result.isError, true);
    assert.equal(upstream.hits.length, 0);
  });

  it('answers a missing env variable with an error naming it, without calling upstream', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/v1/me', ext_info: { headers: { 'X-Api-Key': '${env:TEST_UNSET_KEY}' } } });
    delete env['TEST_UNSET_KEY'];
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(outcome.result.isError, true);
    assert.match(firstText(outcome.result), /TEST_UNSET_KEY/);
    assert.equal(upstream.hits.length, 0);
  });

  it('never sends a DYNMCP_* variable, even under "*" and from a definition that skipped validation', async () => {
    const open = createHttpExecutor({
      defaultTimeoutMs: 5_000,
      maxResponseBytes: 1_000_000,
      env: { DYNMCP_API_KEYS: 'admin-canary-key' },
      toolEnvAllow: ['*'],
      egress: { allow: ['127.0.0.1'] },
    });
    try {
      const tool = httpTool({ domain: upstream.url, path: '/v1/me', ext_info: { headers: { 'X-Leak': '${env:DYNMCP_API_KEYS}' } } });
      assert.throws(() => open.validate(tool), /\$\{env:DYNMCP_API_KEYS\} names one of the gateway's own settings/);
      const outcome = await open.execute(tool, {}, callContext());
      assert.equal(
        firstText(outcome.result),
        'environment variable DYNMCP_API_KEYS is one of the gateway\'s own settings, which tools can never read (needed by header "x-leak" of this tool)',
      );
      assert.equal(upstream.hits.length, 0);
      assert.doesNotMatch(JSON.stringify(outcome), /canary/);
    } finally {
      await open.close();
    }
  });

  it('answers missing required parameters without calling upstream', async () => {
    const tool = httpTool({
      domain: upstream.url,
      path: '/v1/search',
      input_schema: GROUPED_SCHEMA,
      required_params: { q: 'search text', lang: 'language' },
    });
    const missing = await executor.execute(tool, { query: { lang: 'en' } }, callContext());
    assert.equal(missing.result.isError, true);
    assert.match(firstText(missing.result), /"q"/);
    assert.doesNotMatch(firstText(missing.result), /"lang"/);
    assert.equal(upstream.hits.length, 0);
    const present = await executor.execute(tool, { query: { lang: 'en', q: 'x' } }, callContext());
    assert.equal(present.result.isError, undefined);
  });

  it('a required parameter named like a property every object inherits is missing until the call sends it', async () => {
    const tool = httpTool({
      domain: upstream.url,
      path: '/v1/search',
      input_schema: { type: 'object', properties: {} },
      required_params: JSON.parse('{"constructor": "c", "toString": "t", "__proto__": "p"}'),
    });
    const missing = await executor.execute(tool, {}, callContext());
    assert.equal(missing.result.isError, true);
    for (const name of ['constructor', 'toString', '__proto__']) assert.match(firstText(missing.result), new RegExp(`"${name}"`), name);
    assert.equal(upstream.hits.length, 0);
    const present = await executor.execute(tool, JSON.parse('{"constructor": "a", "toString": "b", "__proto__": "c"}'), callContext());
    assert.equal(present.result.isError, undefined, firstText(present.result));
  });

  it('refuses a definition that slipped past validation, per call', async () => {
    const tool = httpTool({ domain: 'ftp://files.example', path: '/x' });
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(outcome.result.isError, true);
    assert.match(firstText(outcome.result), /invalid/);
  });
});
