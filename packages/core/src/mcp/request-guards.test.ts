/**
 * The Host guard in front of the MCP endpoints remembers the Host values it accepted (the SDK's
 * check parses each as a URL); a remembered value must never let another value through.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createRequestGuards } from './request-guards.js';

test('Host values: accepted ones stay accepted, every other value is still refused with 403', async () => {
  const guard = createRequestGuards({ listenHost: '127.0.0.1', allowedHosts: [], allowedOrigins: [] });
  const server = createServer((req, res) => {
    if (guard(req, res)) res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const status = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ port, host: '127.0.0.1', path: '/mcp/x', headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    for (let round = 0; round < 2; round += 1) {
      assert.equal(await status(`127.0.0.1:${port}`), 200);
      assert.equal(await status('localhost'), 200);
      assert.equal(await status('evil.example'), 403);
      assert.equal(await status('evil.example:80'), 403);
      assert.equal(await status(`127.0.0.1.evil.example:${port}`), 403);
    }
    // Past the most values remembered, the guard starts over and still decides each value itself.
    for (let extra = 1; extra <= 300; extra += 1) assert.equal(await status(`localhost:${extra}`), 200);
    assert.equal(await status('evil.example'), 403);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
