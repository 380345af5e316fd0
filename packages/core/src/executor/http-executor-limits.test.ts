import assert from 'node:assert/strict';
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { GatewayError } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';
import { HTTP_CLIENTS, createHttpExecutor } from './http-executor.js';
import { MAX_JSON_DEPTH } from './json-depth.js';
import { callContext, firstText, httpTool } from '../test-support/tool-fixtures.js';

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
 * Compresses `size` zero bytes chunk by chunk: allocating the plain text at once would inflate this
 * process's RSS and hide growth the tests look for.
 */
async function compressZeros(compressor: zlib.Gzip | zlib.BrotliCompress, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  compressor.on('data', (part: Buffer) => parts.push(part));
  const done = new Promise((resolve) => compressor.once('end', resolve));
  streamZeros(compressor, size, { written: 0 });
  await done;
  return Buffer.concat(parts);
}

/**
 * 1 GiB of zeros as gzip, about 1 MB: one 64 MiB member (gzip manages about 1000:1) sent 16 times,
 * which decoders read as one body (RFC 1952 §2.2). Made once for both clients.
 */
const gzipBomb = (async () => Buffer.concat(Array(16).fill(await compressZeros(zlib.createGzip({ level: 9 }), 64 * MiB))))();
/** 256 MiB of zeros as brotli, a few hundred bytes. */
const brotliBomb = (async () => {
  const quality = { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 };
  return compressZeros(zlib.createBrotliCompress({ params: quality }), 256 * MiB);
})();

/** Runs `work` while sampling this process's RSS every 5 ms; returns its result, the RSS growth and the CPU time used. */
async function watched<T>(work: () => Promise<T>): Promise<{ result: T; rssGrowth: number; cpuMs: number }> {
  const before = process.memoryUsage.rss();
  const cpu = process.cpuUsage();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  try {
    const result = await work();
    // Inflation left running in the background would show up here.
    await sleep(200);
    peak = Math.max(peak, process.memoryUsage.rss());
    const used = process.cpuUsage(cpu);
    return { result, rssGrowth: peak - before, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    clearInterval(timer);
  }
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
  const bombs: Record<string, Buffer> = {};
  const egress = { allow: ['127.0.0.1'] };
  const executor = createHttpExecutor({ defaultTimeoutMs: 5_000, maxResponseBytes: CAP, env: {}, client, egress });

  const routes: Record<string, (request: UpstreamHit, res: http.ServerResponse) => void> = {
    // Accepts and never answers: only the tool's timeout ends the call.
    '/hang': () => {},
    // One byte every 50 ms: an idle timeout never fires, only a total deadline stops it.
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
      res.end(bombs['gzip']);
    },
    '/brotli-bomb': (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' });
      res.end(bombs['br']);
    },
    '/deep': (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    },
    '/deep-enough': (_request, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ a: JSON.parse(`${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}`) }));
    },
  };

  before(async () => {
    bombs['gzip'] = await gzipBomb;
    bombs['br'] = await brotliBomb;
    upstream = await startUpstream((request, res) => routes[request.pathname]?.(request, res));
  });
  after(async () => {
    await executor.close();
    await upstream.close();
  });

  it('times out an upstream that never answers, and closes the socket', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/hang', ext_info: { timeout_ms: 300 } });
    const baseline = tcpSockets();
    const started = Date.now();
    const outcome = await executor.execute(tool, {}, callContext());
    const elapsed = Date.now() - started;
    assert.deepEqual(outcome, { result: { content: [{ type: 'text', text: 'upstream timed out after 300 ms' }], isError: true } });
    assert.ok(elapsed >= 290 && elapsed < 600, `answered after ${elapsed} ms`);
    const request = upstream.hits.at(-1);
    await eventually(() => request?.socketClosed() === true);
    // Both ends (client and test server live in this process) are gone: no leaked handle.
    await eventually(() => tcpSockets() <= baseline);
  });

  it('times out a slow drip with the total deadline', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/drip', ext_info: { timeout_ms: 400 } });
    const started = Date.now();
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(firstText(outcome.result), 'upstream timed out after 400 ms');
    assert.equal(outcome.upstreamStatus, 200);
    assert.ok(Date.now() - started < 800);
  });

  it('aborts the upstream request when the call signal aborts', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const outcome = await executor.execute(tool, {}, callContext(controller.signal));
    assert.equal(firstText(outcome.result), 'upstream request cancelled');
    assert.equal(outcome.result.isError, true);
    assert.ok(Date.now() - started < 1_000);
    const request = upstream.hits.at(-1);
    await eventually(() => request?.socketClosed() === true);
  });

  it('does not call upstream when the signal is already aborted', async () => {
    const hits = upstream.hits.length;
    const tool = httpTool({ domain: upstream.url, path: '/hang' });
    const outcome = await executor.execute(tool, {}, callContext(AbortSignal.abort()));
    assert.equal(firstText(outcome.result), 'upstream request cancelled');
    assert.equal(upstream.hits.length, hits);
  });

  it('aborts a body far larger than the cap, with bounded memory', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/huge' });
    const rssBefore = process.memoryUsage().rss;
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(firstText(outcome.result), `upstream response too large (over ${CAP} bytes)`);
    assert.equal(outcome.upstreamStatus, 200);
    const request = upstream.hits.at(-1);
    await eventually(() => request?.socketClosed() === true);
    // The upstream stopped soon after the cap (socket buffers aside) instead of sending its 1 GiB.
    assert.ok(produced.written < 32 * MiB, `upstream wrote ${produced.written} bytes`);
    assert.ok(process.memoryUsage().rss - rssBefore < 64 * MiB, 'rss grew by more than 64 MiB');
  });

  it('stops inflating a 1 GiB gzip bomb and a brotli bomb at the cap, with bounded memory and CPU', async () => {
    const cap = 4 * MiB;
    const roomy = createHttpExecutor({ defaultTimeoutMs: 10_000, maxResponseBytes: cap, env: {}, client, egress });
    try {
      for (const [path, bomb] of [['/bomb', bombs['gzip']], ['/brotli-bomb', bombs['br']]] as const) {
        assert.ok(bomb !== undefined && bomb.length < cap, 'the compressed bomb itself fits the cap');
        const tool = httpTool({ domain: upstream.url, path });
        const { result, rssGrowth, cpuMs } = await watched(() => roomy.execute(tool, {}, callContext()));
        assert.equal(firstText(result.result), `upstream response too large (over ${cap} bytes)`, path);
        assert.ok(rssGrowth < 64 * MiB, `${path}: rss grew by ${Math.round(rssGrowth / MiB)} MiB`);
        // Inflating the whole gzip bomb takes over 2 s of CPU here; stopping at the cap, a few ms.
        assert.ok(cpuMs < 600, `${path}: the call used ${Math.round(cpuMs)} ms of CPU`);
      }
    } finally {
      await roomy.close();
    }
  });

  it('applies a per-tool cap from ext_info.max_response_bytes, never above the executor\'s', async () => {
    const tool = httpTool({ domain: upstream.url, path: '/bomb', ext_info: { max_response_bytes: 1000 } });
    const outcome = await executor.execute(tool, {}, callContext());
    assert.equal(firstText(outcome.result), 'upstream response too large (over 1000 bytes)');
    const greedy = httpTool({ domain: upstream.url, path: '/bomb', ext_info: { max_response_bytes: 2 * CAP } });
    assert.throws(
      () => executor.validate(greedy),
      (error: unknown) =>
        error instanceof GatewayError &&
        error.code === 'INVALID_PAYLOAD' &&
        error.message === `ext_info.max_response_bytes must not exceed ${CAP}, the gateway's executor.maxResponseBytes (DYNMCP_MAX_RESPONSE_BYTES)`,
    );
    // Stored before the ceiling was lowered: the ceiling still applies.
    const stored = await executor.execute(greedy, {}, callContext());
    assert.equal(firstText(stored.result), `upstream response too large (over ${CAP} bytes)`);
  });

  it('refuses JSON nested deeper than the limit, and passes JSON at the limit', async () => {
    const deep = await executor.execute(httpTool({ domain: upstream.url, path: '/deep' }), {}, callContext());
    assert.equal(deep.result.isError, true);
    assert.equal(firstText(deep.result), `upstream answered 200 OK with JSON nested deeper than ${MAX_JSON_DEPTH} levels; not passed on`);
    const schema = { type: 'object' };
    const enough = await executor.execute(httpTool({ domain: upstream.url, path: '/deep-enough', output_schema: schema }), {}, callContext());
    assert.equal(enough.result.isError, undefined);
    assert.ok(enough.result.structuredContent !== undefined);
  });

  it('answers calls after close() with an error', async () => {
    const closing = createHttpExecutor({ defaultTimeoutMs: 1_000, maxResponseBytes: CAP, env: {}, client, egress });
    await closing.close();
    const outcome = await closing.execute(httpTool({ domain: upstream.url, path: '/hang' }), {}, callContext());
    assert.equal(outcome.result.isError, true);
  });
});
