import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type ToolCallContext, type ToolLogLevel } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';
import { HTTP_CLIENTS, createHttpExecutor } from './http-executor.js';
import { firstText, httpTool } from '../test-support/tool-fixtures.js';

/** Resolves when `check` holds, polling every 10 ms for at most 3 s. */
async function eventually(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 3000) throw new Error('condition not met within 3 s');
    await sleep(10);
  }
}

/** A call context that records what the executor reports. */
function recordingContext(signal: AbortSignal = new AbortController().signal) {
  const progress: Array<[number, number | undefined, string | undefined]> = [];
  const logs: Array<[ToolLogLevel, unknown]> = [];
  const context: ToolCallContext = {
    signal,
    logger: silentLogger,
    progress: (value, total, message) => progress.push([value, total, message]),
    log: (level, data) => logs.push([level, data]),
  };
  return { context, progress, logs };
}

const sse = (res: http.ServerResponse, event: string, data: unknown) =>
  res.write(`event: ${event}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);

for (const client of HTTP_CLIENTS) {
  describe(`http executor (${client}): upstream event streams`, () => {
    let upstream: TestUpstream;
    // Streams held open until the test releases them, to prove events arrive before the end.
    const held: Array<() => void> = [];
    const executor = createHttpExecutor({ defaultTimeoutMs: 5_000, maxResponseBytes: 4096, env: {}, client, egress: { allow: ['127.0.0.1'] } });

    const routes: Record<string, (request: UpstreamHit, res: http.ServerResponse) => void> = {
      '/job': (_request, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        sse(res, 'progress', { progress: 0, total: 100 });
        sse(res, 'log', { level: 'info', data: 'started' });
        held.push(() => {
          sse(res, 'progress', { progress: 100, total: 100, message: 'done' });
          sse(res, 'result', { rows: 3 });
          res.end();
        });
      },
      '/endless': (_request, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        sse(res, 'progress', { progress: 1 });
        // Never ends: only cancellation (or the timeout) stops it.
      },
      '/chatter': (_request, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (let i = 0; i < 200; i += 1) sse(res, 'log', { data: `line ${i} ${'x'.repeat(40)}` });
        res.end();
      },
      '/refused': (_request, res) => {
        res.writeHead(429, { 'content-type': 'text/event-stream' });
        res.end('event: error\ndata: slow down\n\n');
      },
    };

    before(async () => {
      upstream = await startUpstream((request, res) => (routes[request.pathname] ?? routes['/refused']!)(request, res));
    });
    after(async () => {
      await executor.close();
      await upstream.close();
    });

    it('forwards progress and log events while the upstream still works, then maps the result', async () => {
      const { context, progress, logs } = recordingContext();
      const call = executor.execute(httpTool({ domain: upstream.url, path: '/job', output_schema: { type: 'object' } }), {}, context);
      await eventually(() => progress.length === 1 && logs.length === 1 && held.length === 1);
      assert.deepEqual(progress, [[0, 100, undefined]], 'the first event arrived before the stream ended');
      held.shift()?.();
      const outcome = await call;
      assert.deepEqual(progress, [
        [0, 100, undefined],
        [100, 100, 'done'],
      ]);
      assert.deepEqual(logs, [['info', 'started']]);
      assert.deepEqual(outcome, {
        result: { content: [{ type: 'text', text: '{"rows":3}' }], structuredContent: { rows: 3 } },
        upstreamStatus: 200,
      });
    });

    it('aborts the upstream stream when the call is cancelled', async () => {
      const controller = new AbortController();
      const { context, progress } = recordingContext(controller.signal);
      const before = upstream.hits.length;
      const call = executor.execute(httpTool({ domain: upstream.url, path: '/endless' }), {}, context);
      await eventually(() => progress.length === 1);
      controller.abort();
      const outcome = await call;
      assert.equal(firstText(outcome.result), 'upstream request cancelled');
      const request = upstream.hits[before];
      await eventually(() => request?.socketClosed() === true);
    });

    it('counts stream bytes against the response cap', async () => {
      const outcome = await executor.execute(httpTool({ domain: upstream.url, path: '/chatter' }), {}, recordingContext().context);
      assert.equal(firstText(outcome.result), 'upstream response too large (over 4096 bytes)');
    });

    it('reads a non-2xx event stream as an ordinary error answer', async () => {
      const { context, logs } = recordingContext();
      const outcome = await executor.execute(httpTool({ domain: upstream.url, path: '/refused' }), {}, context);
      assert.equal(outcome.result.isError, true);
      assert.equal(outcome.upstreamStatus, 429);
      assert.match(firstText(outcome.result), /^upstream answered 429 Too Many Requests: event: error/);
      assert.deepEqual(logs, []);
    });
  });
}
