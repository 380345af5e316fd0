import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger, type Logger } from '@dynmcp/plugin';
import { TEST_AUTH } from '../test-support/mcp-clients.js';
import { echoTool, startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

const LIMIT = 3;

/** A gateway whose failure limit is LIMIT per minute, with a private and a public instance. */
async function gatewayWithLimit(overrides: Record<string, unknown> = {}, logger?: Logger): Promise<TestGateway> {
  const gw = await startTestGateway(
    { auth: { maxFailures: LIMIT, failureWindowMs: 60_000 }, ...overrides },
    logger === undefined ? {} : { logger },
  );
  await gw.admin('PUT', '/admin/tds/t', echoTool('t', 'http://127.0.0.1:9'));
  await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });
  await gw.admin('PUT', '/admin/ids/open', { name: 'open', tool_ids: ['t'], public: true });
  return gw;
}

const mcp = (gw: TestGateway, instance: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/mcp/${instance}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });

const wrongKey = (i: number) => ({ authorization: `Bearer wrong-key-${i}` });

/** Status, the headers that matter and the body: what a caller can tell answers apart by. */
async function answer(res: Response) {
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    wwwAuthenticate: res.headers.get('www-authenticate'),
    body: await res.text(),
  };
}

describe('key guessing: one failure limit for /mcp and /admin', () => {
  test('wrong keys on /mcp turn into 429 with Retry-After and a JSON-RPC error once the limit is reached; even the right key waits', async () => {
    const gw = await gatewayWithLimit();
    try {
      for (let i = 0; i < LIMIT; i += 1) assert.equal((await mcp(gw, 'shop', wrongKey(i))).status, 401, `attempt ${i}`);
      const blocked = await mcp(gw, 'shop', wrongKey(99));
      assert.equal(blocked.status, 429);
      const retryAfter = Number(blocked.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      const body = (await blocked.json()) as { jsonrpc: string; error: { code: number; message: string } };
      assert.equal(body.jsonrpc, '2.0');
      assert.match(body.error.message, /too many failed authentications/i);
      assert.equal((await mcp(gw, 'shop', TEST_AUTH)).status, 429, 'a guess that happens to be right is not confirmed');
      assert.equal((await mcp(gw, 'open')).status, 200, 'a public instance needs no key, so the block does not concern it');
    } finally {
      await gw.stop();
    }
  });

  test('failures on /mcp and /admin count together, whichever door comes last', async () => {
    const gw = await gatewayWithLimit();
    try {
      assert.equal((await mcp(gw, 'shop', wrongKey(1))).status, 401);
      assert.equal((await gw.admin('GET', '/admin/ids', undefined, { authorization: 'Bearer wrong-admin-key' })).status, 401);
      assert.equal((await mcp(gw, 'no-such-instance', { 'x-api-key': 'also-wrong' })).status, 401);
      const admin = await gw.admin('GET', '/admin/ids');
      assert.equal(admin.status, 429, 'the admin API is closed by failures made mostly on /mcp');
      assert.equal(admin.body.error_code, 'TOO_MANY_REQUESTS');
      assert.ok(Number(admin.headers.get('retry-after')) >= 1);
      assert.equal((await mcp(gw, 'shop', TEST_AUTH)).status, 429);
    } finally {
      await gw.stop();
    }
  });

  test('401 and 429 read the same whether the instance exists or not', async () => {
    const gw = await gatewayWithLimit({ auth: { maxFailures: 4, failureWindowMs: 60_000 } });
    try {
      const unauthorized = [
        await answer(await mcp(gw, 'shop', wrongKey(1))),
        await answer(await mcp(gw, 'no-such-instance', wrongKey(2))),
        await answer(await mcp(gw, 'shop')),
        await answer(await mcp(gw, 'no-such-instance')),
      ];
      assert.equal(unauthorized[0]!.status, 401);
      for (const other of unauthorized) assert.deepEqual(other, unauthorized[0]);
      const blocked = [await answer(await mcp(gw, 'shop', wrongKey(3))), await answer(await mcp(gw, 'no-such-instance', wrongKey(4)))];
      assert.equal(blocked[0]!.status, 429);
      // Retry-After counts down; it may tick between the two answers.
      const normalise = (a: Awaited<ReturnType<typeof answer>>) => ({ ...a, retryAfter: 'n', body: a.body.replace(/\d+ s/, 'n s') });
      assert.deepEqual(normalise(blocked[1]!), normalise(blocked[0]!));
    } finally {
      await gw.stop();
    }
  });

  test('the deprecated admin.maxAuthFailures and admin.authFailureWindowMs still apply, with a warning at start', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => void warnings.push(message), child: () => logger };
    const gw = await gatewayWithLimit({ auth: {}, admin: { apiKeys: [TEST_KEY], maxAuthFailures: 1, authFailureWindowMs: 30_000 } }, logger);
    try {
      assert.equal(gw.config.auth.maxFailures, 1);
      assert.equal(gw.config.auth.failureWindowMs, 30_000);
      assert.ok(warnings.some((line) => /admin\.maxAuthFailures.*deprecated.*auth\.maxFailures/.test(line)), warnings.join('\n'));
      assert.equal((await mcp(gw, 'shop', wrongKey(1))).status, 401);
      const blocked = await mcp(gw, 'shop', wrongKey(2));
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.headers.get('retry-after')) <= 30);
    } finally {
      await gw.stop();
    }
  });
});
