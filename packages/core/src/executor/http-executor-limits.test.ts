import assert from 'node:assert/strict';
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { HTTP_CLIENTS, createHttpExecutor } from './http-executor.js';
import { callContext, firstText, httpTool, startUpstream } from '../test-support/test-upstream.js';
import type { RecordedRequest, TestUpstream } from '../test-support/test-upstream.js';

const MiB = 1024 * 1024;
const CAP = 1 * MiB;
// What a body could cost if it were buffered whole; every limit assertion is far below it.
const HUGE = 1024 * MiB;

/** Writes `total` zero bytes in 64 KiB chunks, honouring backpressure, until done or the peer leaves. */
function streamZeros(target: NodeJS.WritableStream & { destroyed?: boolean }, total: number, counter: { written: number }): void {
  const chunk = Buffer.alloc(64 * 1024);
  const pump = (): void => {
    while (counter.written < total && target.destroyed !== true) {
      counter.written += chunk.length;
      if (!target.write(chunk)) {
        target.once('drain', pump);
        return;
      }
    }
    if (counter.written >= total) target.end();
  };
  pump();
}

/**
 * Gzips `size` zero bytes (about 1000:1, so 256 MiB become about 250 KiB) chunk by chunk: allocating
 * the plain text at once would inflate this process's RSS and hide growth the tests look for.
 */
async function makeGzipBomb(size: number): Promise<Buffer> {
  const gzip = zlib.createGzip({ level: 9 });
  const parts: Buffer[] = [];
  gzip.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise((resolve) => gzip.once('end', resolve));
  streamZeros(gzip, size, { written: 0 });
  await done;
  return Buffer.concat(parts);
}

/** Open TCP sockets of this process (client and server ends alike). */
function tcpSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
}

/** Polls `check` until it holds or `ms` pass. */
async function eventually(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

for (const client of HTTP_CLIENTS) describe(`http executor: limits (${client})`, () => {
  let upstream: TestUpstream;
  const produced = { written: 0 };
  let gzipBomb: Buffer;
  const executor = createHttpExecutor({ defaultTimeoutMs: 5_000, maxResponseBytes: CAP, env: {}, client });

  const routes: Record<string, (request: RecordedRequest, res: http.ServerResponse) => void> = {
    // Accepts and never answers (reliability.md §6 item 17).
    '/hang': () => {},
    // One byte every 50 ms: only a total deadline stops it (item 18).
    '/drip': (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    },
    '/huge': (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      streamZeros(res, HUGE, produced);
    },
    '/bomb': (_request, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(gzipBomb);
    },
  };

  before(async () => {
    gzipBomb = await makeGzipBomb(256 * MiB);
    upstream = await startUpstream((request, res) => routes[request.pathname]?.(request, res));
  });
  after(async () => {
    await executor.close();
    await upstream.close();
  });

  it('times out an upstream that never answers, and closes the socket', async () => {
    const tool = httpTool({ domain: upstream.origin, path: '/hang', ext_info: { timeout_ms: 300 } });
    const baseline = tcpSockets();
    const started = Date.now();
    const outcome = await executor.execute(tool, {}, callContext());
    const elapsed = Date.now() - started;
    assert.deepEqual(outcome, { result: { content: [{ type: 'text', text: 'upstream timed out after 300 ms' }], isError: true } });
    assert.ok(elapsed >= 290 && elapsed < 600, `answered after ${elapsed} ms`);
    const request = upstream.requests.at(-1);
    await eventually(() => request?.socketClosed() === true);
    // Both ends (client and test server live in this process) are gone: no leaked handle.
    await eventually(() => tcpSockets() <= baseline);
  });

  it('times out a slow drip with the total deadline', async () => {
    const tool = httpTool({ domain: upstream.origin, path: '/drip', ext_info: { timeout_ms: 400 } });
    const started = Date.now();
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(firstText(outcome.result), 'upstream timed out after 400 ms');
    assert.equal(outcome.upstreamStatus, 200);
    assert.ok(Date.now() - started < 800);
  });

  it('aborts the upstream request when the call signal aborts', async () => {
    const tool = httpTool({ domain: upstream.origin, path: '/hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const outcome = await executor.execute(tool, {}, callContext(controller.signal));
    assert.equal(firstText(outcome.result), 'upstream request cancelled');
    assert.equal(outcome.result.isError, true);
    assert.ok(Date.now() - started < 1_000);
    const request = upstream.requests.at(-1);
    await eventually(() => request?.socketClosed() === true);
  });

  it('does not call upstream when the signal is already aborted', async () => {
    const hits = upstream.requests.length;
    const tool = httpTool({ domain: upstream.origin, path: '/hang' });
    const outcome = await executor.execute(tool, {}, callContext(AbortSignal.abort()));
    assert.equal(firstText(outcome.result), 'upstream request cancelled');
    assert.equal(upstream.requests.length, hits);
  });

  it('aborts a body far larger than the cap, with bounded memory', async () => {
    const tool = httpTool({ domain: upstream.origin, path: '/huge' });
    const rssBefore = process.memoryUsage().rss;
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(firstText(outcome.result), `upstream response too large (over ${CAP} bytes)`);
    assert.equal(outcome.upstreamStatus, 200);
    const request = upstream.requests.at(-1);
    await eventually(() => request?.socketClosed() === true);
    // The upstream stopped soon after the cap (socket buffers aside) instead of sending its 1 GiB.
    assert.ok(produced.written < 32 * MiB, `upstream wrote ${produced.written} bytes`);
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * MiB, 'rss grew by more than 64 MiB');
  });

  it('counts a gzip bomb after decompression', async () => {
    assert.ok(gzipBomb.length < CAP, 'the compressed bomb itself fits the cap');
    const tool = httpTool({ domain: upstream.origin, path: '/bomb' });
    const rssBefore = process.memoryUsage().rss;
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(firstText(outcome.result), `upstream response too large (over ${CAP} bytes)`);
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * MiB, 'rss grew by more than 64 MiB');
  });

  it('applies a per-tool cap from ext_info.max_response_bytes', async () => {
    const tool = httpTool({ domain: upstream.origin, path: '/bomb', ext_info: { max_response_bytes: 1000 } });
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(firstText(outcome.result), 'upstream response too large (over 1000 bytes)');
  });

  it('answers calls after close() with an error', async () => {
    const closing = createHttpExecutor({ defaultTimeoutMs: 1_000, maxResponseBytes: CAP, env: {}, client });
    await closing.close();
    const outcome = await closing.execute(httpTool({ domain: upstream.origin, path: '/hang' }), {}, callContext());
    assert.equal(outcome.result.isError, true);
  });
});
