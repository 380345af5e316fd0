import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createRecordingLogger, GatewayError } from '@dynmcp/plugin';
import type { ToolDefinition } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { HTTP_CLIENTS, createHttpExecutor } from './http-executor.js';
import { callContext, firstText, httpTool } from '../test-support/tool-fixtures.js';

/** A listener on 127.0.0.2 that only counts connections: any count above zero means a packet got through. */
async function startForbiddenListener(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = http.createServer((_req, res) => res.end('reached'));
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

function refusedAtWrite(validate: (tool: ToolDefinition) => void, tool: ToolDefinition, pattern: RegExp): void {
  assert.throws(
    () => validate(tool),
    (error: unknown) => error instanceof GatewayError && error.code === 'INVALID_PAYLOAD' && pattern.test(error.message),
  );
}

/** A resolver standing in for DNS: these test names exist nowhere else. */
const TEST_DNS: Record<string, { address: string; family: number }[]> = {
  'good.test': [{ address: '127.0.0.1', family: 4 }],
  'evil.test': [{ address: '127.0.0.2', family: 4 }],
  'mixed.test': [
    { address: '127.0.0.2', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
const resolve = async (hostname: string) => {
  const found = TEST_DNS[hostname];
  if (found === undefined) throw Object.assign(new Error(`test DNS has no ${hostname}`), { code: 'ENOTFOUND' });
  return found;
};

for (const client of HTTP_CLIENTS) describe(`http executor: egress policy (${client})`, () => {
  let upstream: TestUpstream;
  let forbidden: Awaited<ReturnType<typeof startForbiddenListener>>;
  const env = { TEST_SECRET: 'canary-secret' };
  const executor = createHttpExecutor({
    defaultTimeoutMs: 5_000,
    maxResponseBytes: 100_000,
    env,
    toolEnvAllow: ['TEST_*'],
    client,
    egress: { allow: ['127.0.0.1'], deny: ['127.0.0.2'], resolve },
  });
  // Only the built-in denials, and real DNS.
  const strict = createHttpExecutor({ defaultTimeoutMs: 5_000, maxResponseBytes: 100_000, env: {}, client });

  before(async () => {
    forbidden = await startForbiddenListener();
    upstream = await startUpstream((request, res) => {
      const redirects: Record<string, string> = {
        '/api/v1/items/out': '/admin/steal',
        '/api/v1/items/climb': '/api/v1/items/../../../admin/steal',
        '/api/v1/items/sibling': '/api/v1/users/1',
        // Under the prefix as written; `/admin/steal` to a server that decodes %2F before resolving `..`.
        '/api/v1/items/encoded': '/api/v1/items/..%2F..%2F..%2Fadmin/steal',
        '/api/v1/items/backslash': '/api/v1/items/%2e%2e%5C%2E%2E%5Cadmin',
        '/api/v1/items/in': '/api/v1/items/other',
        '/api/v1/items/away': `http://127.0.0.2:${forbidden.port}/api/v1/other`,
      };
      const location = redirects[request.pathname];
      if (location !== undefined) {
        res.writeHead(302, { location });
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: request.pathname }));
    });
  });
  after(async () => {
    await executor.close();
    await strict.close();
    await upstream.close();
    await forbidden.close();
  });
  beforeEach(() => {
    upstream.hits.length = 0;
  });

  it('reaches an allowed address', async () => {
    const outcome = await executor.execute(httpTool({ domain: upstream.url, path: '/api/v1/items/1' }), {}, callContext());
    assert.equal(outcome.upstreamStatus, 200);
  });

  it('refuses every spelling of a denied address at write time and at call time, sending nothing', async () => {
    const { port } = forbidden;
    for (const host of ['127.0.0.2', '0x7f.0.0.2', '2130706434', '0177.0.0.2', '127.0.2', '[::ffff:127.0.0.2]', '[::ffff:7f00:2]']) {
      const tool = httpTool({ domain: `http://${host}:${port}`, path: '/x' });
      refusedAtWrite(executor.validate, tool, /denied by the egress policy \(rule "127\.0\.0\.2" of executor\.egress\.deny \(DYNMCP_EGRESS_DENY\)\)/);
      const log = createRecordingLogger();
      const outcome = await executor.execute(tool, {}, { ...callContext(), logger: log.logger });
      assert.equal(outcome.result.isError, true, host);
      assert.match(firstText(outcome.result), /is denied by the egress policy \(rule "127\.0\.0\.2" of executor\.egress\.deny.*nothing was sent/);
      assert.equal(outcome.upstreamStatus, undefined);
      const warning = log.lines.find((line) => line.level === 'warn');
      assert.equal(warning?.meta?.['rule'], '127.0.0.2', host);
    }
    assert.equal(forbidden.connections(), 0, 'no connection reached 127.0.0.2');
  });

  it('checks each address a name resolves to at connect time, and connects only to checked ones', async () => {
    const evil = httpTool({ domain: `http://evil.test:${forbidden.port}`, path: '/x' });
    // A name is not refused at write time: only its addresses can be judged, when it is used.
    executor.validate(evil);
    const log = createRecordingLogger();
    const outcome = await executor.execute(evil, {}, { ...callContext(), logger: log.logger });
    assert.equal(
      firstText(outcome.result),
      'upstream evil.test (127.0.0.2) is denied by the egress policy (rule "127.0.0.2" of executor.egress.deny (DYNMCP_EGRESS_DENY)); nothing was sent',
    );
    assert.equal(log.lines.filter((line) => line.level === 'warn').length, 1);
    assert.equal(forbidden.connections(), 0);

    // The resolved address is what the socket uses: good.test exists only in the test resolver.
    const upstreamPort = new URL(upstream.url).port;
    const good = await executor.execute(httpTool({ domain: `http://good.test:${upstreamPort}`, path: '/api/v1/items/2' }), {}, callContext());
    assert.equal(good.upstreamStatus, 200);
    assert.equal(upstream.hits[0]?.headers.host, `good.test:${upstreamPort}`);
    const mixed = await executor.execute(httpTool({ domain: `http://mixed.test:${upstreamPort}`, path: '/api/v1/items/3' }), {}, callContext());
    assert.equal(mixed.upstreamStatus, 200, 'the denied address was dropped, the allowed one used');
    assert.equal(forbidden.connections(), 0);
  });

  it('refuses loopback by default: localhost at write time, and after real DNS at call time', async () => {
    const tool = httpTool({ domain: upstream.url.replace('127.0.0.1', 'localhost'), path: '/api/v1/items/1' });
    refusedAtWrite(
      strict.validate,
      tool,
      /tds_ext_info\.domain: localhost \(127\.0\.0\.1\) is denied by the egress policy \(built-in rule "loopback 127\.0\.0\.0\/8"; to reach it, add it to executor\.egress\.allow \(DYNMCP_EGRESS_ALLOW\)\)/,
    );
    refusedAtWrite(strict.validate, httpTool({ domain: 'http://169.254.169.254', path: '/latest/meta-data/' }), /link-local and cloud metadata/);
    // A definition stored before the policy was tightened is still refused when called.
    const outcome = await strict.execute(tool, {}, callContext());
    assert.match(firstText(outcome.result), /^upstream localhost \((127\.0\.0\.1|::1)\) is denied by the egress policy \(built-in rule "loopback /);
    assert.equal(upstream.hits.length, 0);
  });

  it('follows redirects only within the tool\'s origin and path prefix, with its secret headers', async () => {
    const headers = { 'X-Secret': '${env:TEST_SECRET}' };
    const call = (item: string) =>
      executor.execute(httpTool({ domain: upstream.url, path: '/api/v1/items/{item}', ext_info: { headers } }), { item }, callContext());

    const inside = await call('in');
    assert.equal(inside.upstreamStatus, 200);
    assert.deepEqual(
      upstream.hits.map((request) => [request.pathname, request.headers['x-secret']]),
      [
        ['/api/v1/items/in', 'canary-secret'],
        ['/api/v1/items/other', 'canary-secret'],
      ],
    );

    for (const item of ['out', 'climb', 'sibling', 'encoded', 'backslash']) {
      upstream.hits.length = 0;
      const outcome = await call(item);
      assert.equal(outcome.upstreamStatus, 302);
      assert.equal(firstText(outcome.result), 'upstream redirected outside the tool\'s path prefix /api/v1/items/; not followed');
      assert.deepEqual(upstream.hits.map((request) => request.pathname), [`/api/v1/items/${item}`]);
    }

    const away = await call('away');
    assert.equal(firstText(away.result), `upstream redirected to another host (127.0.0.2:${forbidden.port}); not followed`);
    assert.equal(forbidden.connections(), 0);
  });
});
