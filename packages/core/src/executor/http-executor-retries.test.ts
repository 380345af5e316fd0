import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { HTTP_CLIENTS, createHttpExecutor } from './http-executor.js';
import { callContext, firstText, httpTool } from '../test-support/tool-fixtures.js';

for (const client of HTTP_CLIENTS) describe(`http executor: retries (${client})`, () => {
  let upstream: TestUpstream;
  /** Answers to give, in order; 200 once they run out. */
  let script: number[] = [];
  const executor = createHttpExecutor({ defaultTimeoutMs: 5_000, maxResponseBytes: 100_000, env: {}, client, egress: { allow: ['127.0.0.1'] } });

  before(async () => {
    upstream = await startUpstream((_request, res) => {
      const status = script.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'fine' : `status ${status}`);
    });
  });
  beforeEach(() => {
    upstream.hits.length = 0;
  });
  after(async () => {
    await executor.close();
    await upstream.close();
  });

  const tool = (method: string, ext_info: Record<string, unknown>) => httpTool({ domain: upstream.url, path: '/x', method, ext_info });

  it('retries an idempotent call after 502/503/504, as often as ext_info.retries says', async () => {
    script = [503, 502];
    const outcome = await executor.execute(tool('GET', { retries: 2 }), {}, callContext());
    assert.notEqual(outcome.result.isError, true);
    assert.equal(firstText(outcome.result), 'fine');
    assert.equal(upstream.hits.length, 3);
  });

  it('gives up after the last retry with the upstream status', async () => {
    script = [503, 503, 503];
    const outcome = await executor.execute(tool('PUT', { retries: 1 }), {}, callContext());
    assert.equal(outcome.result.isError, true);
    assert.equal(outcome.upstreamStatus, 503);
    assert.equal(upstream.hits.length, 2);
  });

  it('never retries POST, nor without ext_info.retries, nor other statuses', async () => {
    script = [503];
    assert.equal((await executor.execute(tool('POST', { retries: 3 }), {}, callContext())).result.isError, true);
    assert.equal(upstream.hits.length, 1);
    script = [503];
    assert.equal((await executor.execute(tool('GET', {}), {}, callContext())).result.isError, true);
    assert.equal(upstream.hits.length, 2);
    script = [500];
    assert.equal((await executor.execute(tool('GET', { retries: 3 }), {}, callContext())).result.isError, true);
    assert.equal(upstream.hits.length, 3);
  });

  it('retries a refused connection, within the call timeout', async () => {
    // A port nothing listens on: take a free one and close it.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const started = Date.now();
    const refused = httpTool({ domain: `http://127.0.0.1:${port}`, path: '/x', ext_info: { retries: 2, timeout_ms: 2000 } });
    const outcome = await executor.execute(refused, {}, callContext());
    assert.equal(outcome.result.isError, true);
    assert.match(firstText(outcome.result), /ECONNREFUSED/);
    // Two pauses (100 ms, 200 ms) prove the retries happened; the timeout bounds them.
    assert.ok(Date.now() - started >= 300, `took ${Date.now() - started} ms`);
    assert.ok(Date.now() - started < 2000);
  });

  it('refuses a retries value outside 0–3 when the tool is written', () => {
    assert.throws(() => executor.validate(tool('GET', { retries: 4 })), /ext_info\.retries must be an integer from 0 to 3/);
    assert.throws(() => executor.validate(tool('GET', { retries: 'twice' })), /ext_info\.retries/);
  });
});
