import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRecordingLogger } from '@dynmcp/plugin';
import { connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';

/** The strict policy under test: production defaults, one loopback address let through, one denied. */
const STRICT = { env: 'production', executor: { egress: { allow: ['127.0.0.1'], deny: ['127.0.0.2'] } } };

/** A listener on 127.0.0.2 that counts connections: one is a packet the policy let through. */
async function startForbiddenListener() {
  let connections = 0;
  const server = createServer((_req, res) => res.end('reached'));
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function tool(id: string, domain: string, path = '/api/items/{item}', extInfo: Record<string, unknown> = {}) {
  return {
    id,
    name: id,
    description: `Tool ${id}`,
    input_schema: { type: 'object', properties: { item: { type: 'string' } }, required: ['item'] },
    tds_ext_info: { domain, method: 'GET', path, required_params: {}, ext_info: extInfo },
  };
}

async function callTool(gw: TestGateway, instance: string, name: string, item = 'x') {
  const { client } = await connectModern(`${gw.url}/mcp/${instance}`);
  try {
    const result = await client.callTool({ name, arguments: { item } });
    return { isError: result.isError === true, text: (result.content as { text?: string }[])[0]?.text ?? '' };
  } finally {
    await client.close();
  }
}

describe('egress policy: what tools may reach', () => {
  let forbidden: Awaited<ReturnType<typeof startForbiddenListener>>;
  let upstream: TestUpstream;

  before(async () => {
    forbidden = await startForbiddenListener();
    upstream = await startUpstream((hit, res) => {
      const redirects: Record<string, string> = {
        '/api/items/leave': '/admin/keys',
        // Under the prefix as written; /admin/keys to a server that decodes %2F before resolving "..".
        '/api/items/sneak': '/api/items/..%2F..%2Fadmin/keys',
      };
      if (redirects[hit.url] !== undefined) {
        res.writeHead(302, { location: redirects[hit.url] });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: hit.url }));
    });
  });
  after(async () => {
    await upstream.close();
    await forbidden.close();
  });

  test('every spelling of a denied address, built-in denials and metadata are refused at write time with the rule and the setting', async () => {
    const gw = await startTestGateway(STRICT);
    try {
      const { port } = forbidden;
      for (const host of ['127.0.0.2', '0x7f.0.0.2', '2130706434', '0177.0.0.2', '127.0.2', '[::ffff:127.0.0.2]', '[::ffff:7f00:2]']) {
        const res = await gw.admin('PUT', '/admin/tds/t', tool('t', `http://${host}:${port}`));
        assert.equal(res.status, 400, host);
        assert.equal(res.body.error_code, 'INVALID_PAYLOAD');
        assert.match(res.body.error, /denied by the egress policy \(rule "127\.0\.0\.2" of executor\.egress\.deny \(DYNMCP_EGRESS_DENY\)\)/);
      }
      const builtIn: Record<string, RegExp> = {
        'http://127.0.0.3': /built-in rule "loopback 127\.0\.0\.0\/8"; to reach it, add it to executor\.egress\.allow \(DYNMCP_EGRESS_ALLOW\)/,
        'http://[::1]:8080': /built-in rule "loopback ::1\/128"/,
        'http://169.254.169.254': /built-in rule "link-local and cloud metadata 169\.254\.0\.0\/16"/,
        'http://[::ffff:169.254.169.254]': /link-local and cloud metadata/,
        'http://10.0.0.1': /built-in rule "private 10\.0\.0\.0\/8"/,
        'http://[fd00::1]': /unique local/,
        'http://0.0.0.0': /this network/,
      };
      for (const [domain, rule] of Object.entries(builtIn)) {
        const res = await gw.admin('PUT', '/admin/tds/t', tool('t', domain));
        assert.equal(res.status, 400, domain);
        assert.match(res.body.error, rule, domain);
      }
      assert.equal((await gw.admin('GET', '/admin/tds/t')).status, 404, 'nothing was stored');
      assert.equal(forbidden.connections(), 0);
    } finally {
      await gw.stop();
    }
  });

  test('the allowed address works; a definition stored before the policy was tightened gets a tool error, a warning, and no packet', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'dynmcp-egress-'));
    try {
      // Written under the development defaults, where loopback is allowed.
      const loose = await startTestGateway({}, { dataDir });
      const localhost = upstream.url.replace('127.0.0.1', 'localhost');
      for (const [id, domain] of [
        ['allowed', upstream.url],
        ['denied', `http://127.0.0.2:${forbidden.port}`],
        ['mapped', `http://[::ffff:127.0.0.2]:${forbidden.port}`],
      ]) {
        assert.equal((await loose.admin('PUT', `/admin/tds/${id}`, tool(id as string, domain as string))).status, 200, id);
      }
      assert.equal((await loose.admin('PUT', '/admin/tds/by-name', tool('by-name', localhost))).status, 200);
      await loose.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['allowed', 'denied', 'mapped', 'by-name'] });
      await loose.stop();

      const { logger, lines } = createRecordingLogger();
      // No loopback at all this time, so `localhost` is judged on what DNS gives at connect time.
      const gw = await startTestGateway({ env: 'production', executor: { egress: { deny: ['127.0.0.2'] } } }, { dataDir, logger });
      try {
        for (const name of ['denied', 'mapped']) {
          const result = await callTool(gw, 'shop', name);
          assert.equal(result.isError, true, name);
          assert.match(result.text, /is denied by the egress policy \(rule "127\.0\.0\.2" of executor\.egress\.deny \(DYNMCP_EGRESS_DENY\)\); nothing was sent$/);
        }
        const hits = upstream.hits.length;
        const byName = await callTool(gw, 'shop', 'by-name');
        assert.equal(byName.isError, true);
        assert.match(byName.text, /^upstream localhost \((127\.0\.0\.1|::1)\) is denied by the egress policy \(built-in rule "loopback /);
        const allowed = await callTool(gw, 'shop', 'allowed');
        assert.match(allowed.text, /loopback 127\.0\.0\.0\/8/, 'without an allow rule, 127.0.0.1 is loopback like any other');
        assert.equal(upstream.hits.length, hits, 'the upstream on 127.0.0.1 saw nothing');
        const warnings = lines.filter((line) => line.level === 'warn' && /egress policy/.test(line.message));
        // One warning per refused call, naming the rule (`loopback 127.0.0.0/8` or `loopback ::1/128` for localhost).
        assert.deepEqual(
          warnings.map((line) => String(line.meta['rule']).replace(/ .*/, '')),
          ['127.0.0.2', '127.0.0.2', 'loopback', 'loopback'],
        );
      } finally {
        await gw.stop();
      }
      assert.equal(forbidden.connections(), 0, 'no connection reached 127.0.0.2');

      const strict = await startTestGateway(STRICT, { dataDir });
      try {
        assert.equal((await callTool(strict, 'shop', 'allowed')).isError, false, 'allow wins over the built-in loopback rule');
      } finally {
        await strict.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('a redirect outside the tool\'s path prefix, also behind an encoded slash, is not followed, so its secret header stays home; an argument cannot climb either', async () => {
    const gw = await startTestGateway(STRICT, { env: { UPSTREAM_TOKEN: 'canary-token' } });
    try {
      const headers = { authorization: 'Bearer ${env:UPSTREAM_TOKEN}' };
      const put = await gw.admin('PUT', '/admin/tds/t', tool('t', upstream.url, '/api/items/{item}', { headers }));
      // Production lists no variables by default.
      assert.equal(put.status, 400);
      assert.match(put.body.error, /add UPSTREAM_TOKEN to executor\.toolEnvAllow \(DYNMCP_TOOL_ENV_ALLOW\)/);
    } finally {
      await gw.stop();
    }
    const open = await startTestGateway({ ...STRICT, executor: { ...STRICT.executor, toolEnvAllow: ['UPSTREAM_*'] } }, { env: { UPSTREAM_TOKEN: 'canary-token' } });
    try {
      const headers = { authorization: 'Bearer ${env:UPSTREAM_TOKEN}' };
      assert.equal((await open.admin('PUT', '/admin/tds/t', tool('t', upstream.url, '/api/items/{item}', { headers }))).status, 200);
      await open.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });
      for (const item of ['leave', 'sneak']) {
        const before = upstream.hits.length;
        const result = await callTool(open, 'shop', 't', item);
        assert.equal(result.isError, true);
        assert.equal(result.text, 'upstream redirected outside the tool\'s path prefix /api/items/; not followed');
        const hits = upstream.hits.slice(before);
        assert.deepEqual(hits.map((hit) => [hit.url, hit.headers.authorization]), [[`/api/items/${item}`, 'Bearer canary-token']]);
      }

      // Nor can an argument climb: "../../admin/keys" would go out as one segment, ..%2F..%2Fadmin%2Fkeys,
      // which such a server resolves to /admin/keys. Nothing is sent.
      const before = upstream.hits.length;
      for (const item of ['../../admin/keys', '..', '%2e%2e/admin', '..\\admin']) {
        const climbed = await callTool(open, 'shop', 't', item);
        assert.equal(climbed.isError, true, item);
        assert.match(climbed.text, /path parameter "item" must not be "\." or "\.\.", nor hold such a piece between slashes/, item);
      }
      assert.equal(upstream.hits.length, before, 'no request left the gateway');
    } finally {
      await open.stop();
    }
  });
});
