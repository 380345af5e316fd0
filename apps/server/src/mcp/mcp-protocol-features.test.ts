/**
 * Protocol features end to end, with the official clients: tools/list pagination, ping, logging,
 * progress, cancellation reaching the upstream, output schema checks, unsupported versions.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectLegacy, connectModern, TEST_AUTH } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';

/** Requests to /hang whose connection has closed, by the `n` query value. */
const hangClosed = new Set<string>();
const hangSeen = new Set<string>();

function route(hit: UpstreamHit, res: ServerResponse) {
  const url = new URL(hit.url, 'http://upstream');
  switch (url.pathname) {
    case '/job': {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events: Array<[string, unknown]> = [
        ['progress', { progress: 0, total: 2 }],
        ['log', { level: 'debug', data: 'fetching' }],
        ['progress', { progress: 1, total: 2 }],
        ['log', { level: 'warning', data: { slow: true }, logger: 'job' }],
        ['progress', { progress: 2, total: 2 }],
        ['result', { done: true }],
      ];
      for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      res.end();
      return;
    }
    case '/hang': {
      const n = url.searchParams.get('n') ?? '';
      hangSeen.add(n);
      res.once('close', () => hangClosed.add(n));
      return; // never answers: only cancellation ends it
    }
    case '/bad-shape':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"total":"three"}');
      return;
    default:
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`plain ${url.pathname}`);
  }
}

const tool = (name: string, path: string, extra: Record<string, unknown> = {}) => (upstream: string) => ({
  name,
  description: `tool ${name}`,
  input_schema: { type: 'object' },
  tds_ext_info: { domain: upstream, method: 'GET', path },
  ...extra,
});

const TOOLS = {
  alpha: tool('alpha', '/alpha'),
  bravo: tool('bravo', '/bravo'),
  charlie: tool('charlie', '/charlie'),
  job: tool('job', '/job'),
  hang: tool('hang', '/hang', { input_schema: { type: 'object', properties: { n: { type: 'string' } } } }),
  shaped: tool('shaped', '/bad-shape', { output_schema: { type: 'object', properties: { total: { type: 'integer' } } } }),
};
const ALL_NAMES = ['alpha', 'bravo', 'charlie', 'hang', 'job', 'shaped'];

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 5000) throw new Error(`${what}: not within 5 s`);
    await sleep(10);
  }
}

const textOf = (result: unknown) =>
  (((result as { content?: unknown }).content ?? []) as Array<{ type: string; text?: string }>).map((block) => block.text ?? '').join('\n');

describe('MCP protocol features', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  const url = (instance: string) => `${gw.url}/mcp/${instance}`;

  before(async () => {
    upstream = await startUpstream(route);
    gw = await startTestGateway({ mcp: { toolsPageSize: 2 } });
    for (const [id, make] of Object.entries(TOOLS)) {
      assert.equal((await gw.admin('PUT', `/admin/tds/${id}`, make(upstream.url))).status, 200);
    }
    const toolIds = Object.keys(TOOLS);
    assert.equal((await gw.admin('PUT', '/admin/ids/feat', { name: 'feat', tool_ids: toolIds })).status, 200);
    const stateless = { name: 'feat2', tool_ids: toolIds, metadata: { proto_type: 'streamable-stateless' } };
    assert.equal((await gw.admin('PUT', '/admin/ids/feat-stateless', stateless)).status, 200);
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
  });

  type Options = { signal?: AbortSignal; onprogress?: (report: { progress: number; total?: number }) => void };
  type Client = Awaited<ReturnType<typeof connectLegacy>>['client'] | Awaited<ReturnType<typeof connectModern>>['client'];
  // v1's callTool takes (params, resultSchema, options), v2's (params, options).
  const v1Call = (client: Client, params: { name: string; arguments: Record<string, unknown> }, options: Options) =>
    (client as Awaited<ReturnType<typeof connectLegacy>>['client']).callTool(params, undefined, options);
  const v2Call = (client: Client, params: { name: string; arguments: Record<string, unknown> }, options: Options) =>
    (client as Awaited<ReturnType<typeof connectModern>>['client']).callTool(params, options);

  const clients = [
    { name: 'v1 client, stateful', connect: () => connectLegacy(url('feat')), call: v1Call, paginates: false, perRequest: false },
    // On a stateless instance every 2025-era POST is answered on its own, so the client's
    // notifications/cancelled (a POST of its own) has no request to reach; closing the response
    // stream does cancel, since nobody could receive the answer any more.
    { name: 'v1 client, stateless', connect: () => connectLegacy(url('feat-stateless')), call: v1Call, paginates: false, perRequest: true },
    // The v2 client's listTools() without a cursor walks every page itself; an aborted call closes its stream.
    { name: 'v2 client (2026-07-28)', connect: () => connectModern(url('feat')), call: v2Call, paginates: true, perRequest: false },
  ];

  for (const { name, connect, call, paginates, perRequest } of clients) {
    test(`tools/list pages with opaque cursors; an invalid cursor is -32602 (${name})`, async () => {
      const { client } = await connect();
      try {
        if (paginates) {
          assert.deepEqual((await client.listTools()).tools.map((listed) => listed.name), ALL_NAMES);
        } else {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await client.listTools(cursor === undefined ? {} : { cursor });
            assert.ok(page.tools.length <= 2);
            seen.push(...page.tools.map((listed) => listed.name));
            cursor = page.nextCursor;
            pages += 1;
          } while (cursor !== undefined);
          assert.deepEqual(seen, ALL_NAMES);
          assert.equal(pages, 3);
        }
        await assert.rejects(client.listTools({ cursor: 'not-a-cursor!' }), (error: { code?: number; message: string }) => {
          assert.equal(error.code, -32602);
          assert.match(error.message, /Invalid cursor/);
          return true;
        });
      } finally {
        await client.close();
      }
    });

    test(`progress from an upstream event stream reaches the client (${name})`, async () => {
      const { client } = await connect();
      try {
        const progress: Array<{ progress: number; total?: number }> = [];
        const result = await call(client, { name: 'job', arguments: {} }, {
          onprogress: (report) => progress.push({ progress: report.progress, total: report.total }),
        });
        assert.deepEqual(JSON.parse(textOf(result)), { done: true });
        assert.deepEqual(progress, [
          { progress: 0, total: 2 },
          { progress: 1, total: 2 },
          { progress: 2, total: 2 },
        ]);
      } finally {
        await client.close();
      }
    });

    test(`a cancelled call aborts its upstream request${perRequest ? ' once its response stream closes' : ''} (${name})`, async () => {
      const { client } = await connect();
      try {
        const n = `${name}-${Date.now()}`;
        const controller = new AbortController();
        const pending = call(client, { name: 'hang', arguments: { n } }, { signal: controller.signal });
        await eventually(() => hangSeen.has(n), 'the upstream got the request');
        controller.abort();
        await assert.rejects(pending);
        if (perRequest) await client.close();
        await eventually(() => hangClosed.has(n), 'the upstream saw its connection closed');
      } finally {
        await client.close();
      }
    });

    test(`structured content that breaks output_schema is an isError result (${name})`, async () => {
      const { client } = await connect();
      try {
        const result = await client.callTool({ name: 'shaped', arguments: {} });
        assert.equal(result.isError, true);
        assert.match(textOf(result), /does not match the tool's output_schema: \/total must be integer/);
      } finally {
        await client.close();
      }
    });
  }

  test('ping answers {} (v1 client)', async () => {
    const { client } = await connectLegacy(url('feat'));
    try {
      assert.deepEqual(await client.ping(), {});
    } finally {
      await client.close();
    }
  });

  test('logging: the capability is declared, logging/setLevel filters the upstream log events of a session', async () => {
    const { client } = await connectLegacy(url('feat'));
    try {
      assert.deepEqual(client.getServerCapabilities()?.logging, {});
      const messages: Array<{ level: string; data: unknown; logger?: string }> = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
        messages.push(notification.params);
      });
      await client.setLoggingLevel('debug');
      await client.callTool({ name: 'job', arguments: {} });
      await client.setLoggingLevel('warning');
      await client.callTool({ name: 'job', arguments: {} });
      await eventually(() => messages.length >= 3, 'log messages');
      assert.deepEqual(messages, [
        { level: 'debug', data: 'fetching' },
        { level: 'warning', data: { slow: true }, logger: 'job' },
        { level: 'warning', data: { slow: true }, logger: 'job' },
      ]);
    } finally {
      await client.close();
    }
  });

  test('2026-07-28: log messages only when the request asks for a log level', async () => {
    const call = async (meta: Record<string, unknown>) => {
      const response = await fetch(url('feat'), {
        method: 'POST',
        headers: {
          ...TEST_AUTH,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'job',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: {
            name: 'job',
            arguments: {},
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': {},
              ...meta,
            },
          },
        }),
      });
      return response.text();
    };
    const quiet = await call({});
    assert.doesNotMatch(quiet, /notifications\/message/);
    const chatty = await call({ 'io.modelcontextprotocol/logLevel': 'debug' });
    assert.match(chatty, /notifications\/message/);
    assert.match(chatty, /fetching/);
  });

  test('unsupported protocol versions: negotiated down at initialize, 400 in headers and 2026-07-28 _meta', async () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(url('feat-stateless'), {
        method: 'POST',
        headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: JSON.stringify(body),
      });
    const initialize = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '1999-01-01', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    assert.equal(initialize.status, 200);
    const text = await initialize.text();
    const answered = /"protocolVersion":"([^"]+)"/.exec(text)?.[1];
    assert.ok(answered !== undefined && answered !== '1999-01-01', `the server answers a version it supports: ${text}`);

    const badHeader = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-protocol-version': '1999-01-01' });
    assert.equal(badHeader.status, 400);

    const modern = await post(
      {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/list',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01', 'io.modelcontextprotocol/clientCapabilities': {} } },
      },
      { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' },
    );
    assert.equal(modern.status, 400);
    const error = ((await modern.json()) as { error: { code: number; data?: { supported?: string[] } } }).error;
    assert.equal(error.code, -32022);
    assert.ok(error.data?.supported?.includes('2026-07-28'));
  });
});
