import assert from 'node:assert/strict';
import { once } from 'node:events';
import { get, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRecordingLogger, silentLogger, type Logger } from '@dynmcp/plugin';
import { TEST_AUTH } from '../test-support/mcp-clients.js';
import { echoTool, startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

async function gatewayWithInstance(overrides: Record<string, unknown>, logger: Logger = silentLogger): Promise<TestGateway> {
  const gw = await startTestGateway(overrides, { logger });
  await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
  await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });
  return gw;
}

async function openSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  await once(socket, 'connect');
  return socket;
}

/**
 * Sends `head`, then one byte of `trickle` every 50 ms, never finishing; resolves, once the server
 * closes the connection, with what it answered and how long the connection lasted.
 */
async function trickle(port: number, head: string, drip: string): Promise<{ answer: string; elapsedMs: number }> {
  const started = performance.now();
  const socket = await openSocket(port);
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write(head);
  const timer = setInterval(() => socket.writable && socket.write(drip), 50);
  await once(socket, 'close');
  clearInterval(timer);
  return { answer, elapsedMs: performance.now() - started };
}

const postHead = (port: number, contentLength: number) =>
  'POST /mcp/shop HTTP/1.1\r\n' +
  `Host: 127.0.0.1:${port}\r\n` +
  `Authorization: ${TEST_AUTH.authorization}\r\n` +
  'Content-Type: application/json\r\n' +
  'Accept: application/json, text/event-stream\r\n' +
  `Content-Length: ${contentLength}\r\n\r\n` +
  '{"jsonrpc":"2.0",';

/** A complete 2026-07-28 `tools/list` request for the instance `shop`, for a raw keep-alive socket. */
function toolsListRequest(port: number, id: number): string {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/list',
    params: {
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'keep-alive-test', version: '1' },
      },
    },
  });
  return (
    'POST /mcp/shop HTTP/1.1\r\n' +
    `Host: 127.0.0.1:${port}\r\n` +
    `Authorization: ${TEST_AUTH.authorization}\r\n` +
    'Content-Type: application/json\r\n' +
    'Accept: application/json, text/event-stream\r\n' +
    'MCP-Protocol-Version: 2026-07-28\r\n' +
    'Mcp-Method: tools/list\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` +
    body
  );
}

describe('HTTP limits: slow requests, dropped bodies, connections per address', () => {
  test('a body trickled slower than server.requestTimeoutMs is cut off with 408, without an error line', async () => {
    const { logger, lines } = createRecordingLogger();
    const gw = await gatewayWithInstance({ server: { requestTimeoutMs: 800, headersTimeoutMs: 400 } }, logger);
    try {
      const { answer, elapsedMs } = await trickle(gw.port, postHead(gw.port, 100_000), ' ');
      assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), answer);
      assert.ok(elapsedMs >= 700 && elapsedMs < 5_000, `cut after ${Math.round(elapsedMs)} ms`);
      await sleep(100);
      assert.ok(lines.some((line) => line.level === 'info' && /went away/.test(line.message)));
      assert.deepEqual(lines.filter((line) => line.level === 'error'), []);
    } finally {
      await gw.stop();
    }
  });

  test('headers trickled slower than server.headersTimeoutMs are cut off with 408', async () => {
    const gw = await gatewayWithInstance({ server: { requestTimeoutMs: 5_000, headersTimeoutMs: 400 } });
    try {
      const head = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nX-Slow: `;
      const { answer, elapsedMs } = await trickle(gw.port, head, 'a');
      assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), answer);
      assert.ok(elapsedMs >= 300 && elapsedMs < 3_000, `cut after ${Math.round(elapsedMs)} ms`);
    } finally {
      await gw.stop();
    }
  });

  test('a client that drops mid-body on /mcp is an info line, not an error or a 500', async () => {
    const { logger, lines } = createRecordingLogger();
    const gw = await gatewayWithInstance({}, logger);
    try {
      const socket = await openSocket(gw.port);
      socket.write(postHead(gw.port, 1_000));
      await sleep(150);
      socket.destroy();
      const deadline = Date.now() + 3_000;
      while (!lines.some((line) => /went away/.test(line.message)) && Date.now() < deadline) await sleep(20);
      const line = lines.find((entry) => /went away/.test(entry.message));
      assert.equal(line?.level, 'info');
      assert.equal(line?.meta.instanceId, 'shop');
      assert.deepEqual(lines.filter((entry) => entry.level === 'error'), []);
      assert.equal(lines.filter((entry) => entry.meta.status === 500).length, 0);
    } finally {
      await gw.stop();
    }
  });

  test('an MCP GET event stream outlives server.requestTimeoutMs and still delivers notifications', async () => {
    const gw = await gatewayWithInstance({ server: { requestTimeoutMs: 300, headersTimeoutMs: 300 } });
    try {
      const post = (body: unknown, session?: string) =>
        fetch(`${gw.url}/mcp/shop`, {
          method: 'POST',
          headers: {
            ...TEST_AUTH,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...(session === undefined ? {} : { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' }),
          },
          body: JSON.stringify(body),
        });
      const init = await post({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'stream-test', version: '1.0.0' } },
      });
      const session = init.headers.get('mcp-session-id');
      assert.ok(session, 'initialize opened a session');
      await init.text();
      await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session)).text();

      const stream = get(`${gw.url}/mcp/shop`, {
        agent: false,
        headers: { ...TEST_AUTH, accept: 'text/event-stream', 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
      });
      const [res] = (await once(stream, 'response')) as [IncomingMessage];
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      let received = '';
      let closed = false;
      res.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
      res.on('close', () => (closed = true));

      await sleep(1_500);
      assert.equal(closed, false, 'five request timeouts later the stream is still open');
      await gw.admin('PUT', '/admin/tds/t2', echoTool('t2', 'http://127.0.0.1:9'));
      await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t', 't2'] });
      const deadline = Date.now() + 5_000;
      while (!received.includes('notifications/tools/list_changed') && Date.now() < deadline) await sleep(20);
      assert.match(received, /notifications\/tools\/list_changed/);
      stream.destroy();
    } finally {
      await gw.stop();
    }
  });

  test('a keep-alive connection idle for 6 s, longer than the header and request timeouts, still carries the next tools/list', async () => {
    // The default keep-alive timeout, not a test value: node's own 5 s would close this connection.
    const gw = await gatewayWithInstance({ server: { requestTimeoutMs: 800, headersTimeoutMs: 400 } });
    const socket = await openSocket(gw.port);
    try {
      let received = '';
      let closed = false;
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
      socket.on('close', () => (closed = true));
      const answer = async () => {
        const deadline = Date.now() + 5_000;
        while (!/"tools":\[/.test(received) && !closed && Date.now() < deadline) await sleep(10);
        const text = received;
        received = '';
        return text;
      };
      socket.write(toolsListRequest(gw.port, 1));
      const first = await answer();
      assert.match(first, /^HTTP\/1\.1 200/);
      assert.match(first, /keep-alive: timeout=65/i, 'the client is told how long the connection stays open');
      await sleep(6_000);
      assert.equal(closed, false, 'the idle connection is still open after 6 s');
      socket.write(toolsListRequest(gw.port, 2));
      const second = await answer();
      assert.match(second, /^HTTP\/1\.1 200/, 'no 408: idle time does not count against the header timeout');
      assert.match(second, /"id":2/);
    } finally {
      socket.destroy();
      await gw.stop();
    }
  });

  test('server.keepAliveTimeoutMs closes an idle keep-alive connection when it runs out', async () => {
    const gw = await gatewayWithInstance({ server: { keepAliveTimeoutMs: 500 } });
    const socket = await openSocket(gw.port);
    try {
      socket.on('data', () => undefined);
      socket.write(toolsListRequest(gw.port, 1));
      await once(socket, 'data');
      const idleFrom = performance.now();
      await once(socket, 'close');
      const idleMs = performance.now() - idleFrom;
      assert.ok(idleMs >= 400 && idleMs < 3_000, `closed after ${Math.round(idleMs)} ms idle`);
    } finally {
      socket.destroy();
      await gw.stop();
    }
  });

  test('connections beyond server.maxConnectionsPerAddress are closed at once, logged once; another address is unaffected', async () => {
    const { logger, lines } = createRecordingLogger();
    // No admin setup here: a pooled keep-alive connection of fetch would count against the cap.
    const gw = await startTestGateway({ server: { maxConnectionsPerAddress: 3 } }, { logger });
    const held: Socket[] = [];
    const healthz = (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${gw.url}/healthz`, { agent: false, localAddress }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    try {
      for (let i = 0; i < 3; i += 1) held.push(await openSocket(gw.port));
      await sleep(50);
      for (let i = 0; i < 5; i += 1) {
        const extra = await openSocket(gw.port);
        extra.on('error', () => undefined);
        const started = performance.now();
        await once(extra, 'close');
        assert.ok(performance.now() - started < 1_000, 'closed at once');
      }
      await assert.rejects(healthz('127.0.0.1'), 'an HTTP request over a fourth connection fails');
      assert.equal(await healthz('127.0.0.2'), 200, 'another address is not affected');

      const refusals = lines.filter((line) => /too many open connections/.test(line.message));
      assert.equal(refusals.length, 1, 'one line for six refusals');
      assert.equal(refusals[0]?.meta.address, '127.0.0.1');

      held.pop()?.destroy();
      await sleep(100);
      assert.equal(await healthz('127.0.0.1'), 200, 'a closed connection frees its place');
    } finally {
      for (const socket of held) socket.destroy();
      await gw.stop();
    }
  });
});
