/**
 * What an MCP request and its answer may be: JSON-RPC batches only where the protocol revision has
 * them (and few), bounded nesting, a bounded result size as sent, a version refusal that names every
 * version, and capabilities a stateless instance can honour.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createRecordingLogger } from '@dynmcp/plugin';
import { connectLegacy, connectModern, TEST_AUTH } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';

const RESULT_CAP = 1024 * 1024;

function route(hit: UpstreamHit, res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  // 300 000 control characters: 300 KB from the upstream, 1.8 MB once JSON-escaped.
  if (hit.url.startsWith('/escapes')) return void res.end('\u0001'.repeat(300_000));
  if (hit.url.startsWith('/plain')) return void res.end('p'.repeat(300_000));
  res.end(`answer ${hit.url}`);
}

const tool = (name: string, upstream: string, path: string) => ({
  name,
  description: `tool ${name}`,
  input_schema: { type: 'object' },
  tds_ext_info: { domain: upstream, method: 'GET', path },
});

const MODERN_META = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };

describe('MCP requests and answers', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  const log = createRecordingLogger();
  const url = (instance: string) => `${gw.url}/mcp/${instance}`;

  /** POSTs `body` (JSON text as given when a string) and reads the whole answer. */
  async function post(instance: string, body: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(url(instance), {
      method: 'POST',
      headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
  }

  before(async () => {
    upstream = await startUpstream(route);
    gw = await startTestGateway({ mcp: { maxResultBytes: RESULT_CAP } }, { logger: log.logger });
    for (const [id, path] of [
      ['echo', '/echo'],
      ['escapes', '/escapes'],
      ['plain', '/plain'],
    ] as const) {
      assert.equal((await gw.admin('PUT', `/admin/tds/${id}`, tool(id, upstream.url, path))).status, 200);
    }
    const tools = ['echo', 'escapes', 'plain'];
    await gw.admin('PUT', '/admin/ids/stateful', { name: 'stateful', tool_ids: tools });
    await gw.admin('PUT', '/admin/ids/stateless', { name: 'stateless', tool_ids: tools, metadata: { proto_type: 'streamable-stateless' } });
  });
  after(async () => {
    await gw.stop();
    await upstream.close();
    assert.deepEqual(log.lines.filter((line) => line.level === 'error'), [], 'no error line');
  });

  const callMessage = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: {} } });

  /** A body reaches three legs: 2025 session-less, 2026-07-28, and 2025 stateful: instance, headers, params it adds. */
  const LEGS: ReadonlyArray<[string, Record<string, string>, Record<string, unknown>]> = [
    ['stateless', { 'mcp-protocol-version': '2025-11-25' }, {}],
    ['stateless', {}, { _meta: MODERN_META }],
    ['stateful', { 'mcp-protocol-version': '2025-11-25' }, {}],
  ];

  /** POSTs `body` as it is, bytes or text, with the MCP headers and `headers`. */
  const postRaw = (instance: string, headers: Record<string, string>, body: Uint8Array | string) =>
    fetch(url(instance), {
      method: 'POST',
      headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body,
    });

  /** A `tools/call` of the echo tool, and a `ping`, as JSON text for a leg that adds `extra` to params. */
  const callText = (extra: Record<string, unknown>) => JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: {}, ...extra } });
  const pingText = (extra: Record<string, unknown>) => JSON.stringify({ jsonrpc: '2.0', id: 10, method: 'ping', ...(Object.keys(extra).length > 0 ? { params: extra } : {}) });

  /** Asserts `response` is the JSON-RPC refusal `status`/`code` with exactly `message`. */
  async function assertRefused(response: Response, status: number, code: number, message: string, what: string) {
    const answer = (await response.json()) as { error?: { code: number; message: string } };
    assert.equal(response.status, status, what);
    assert.equal(answer.error?.code, code);
    assert.equal(answer.error?.message, message);
  }

  test('a body whose bytes are not UTF-8 is 400 -32700 on every leg, and nothing reaches the upstream', async () => {
    upstream.hits.length = 0;
    for (const [instance, headers, extra] of LEGS) {
      const text = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { q: 'caf\u00e9' }, ...extra } });
      // "é" as Latin-1 (0xE9) in place of its UTF-8 bytes: decoding would put U+FFFD in the argument.
      const at = text.indexOf('caf') + 3;
      const bytes = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xe9]), Buffer.from(text.slice(at + 1))]);
      const response = await postRaw(instance, headers, new Uint8Array(bytes));
      const answer = (await response.json()) as { error?: { code: number; message: string } };
      assert.equal(response.status, 400, `${instance} ${JSON.stringify(headers)}`);
      assert.equal(answer.error?.code, -32700);
      assert.match(answer.error?.message ?? '', /not valid JSON in UTF-8/);
    }
    assert.equal(upstream.hits.length, 0);
  });

  test('a compressed body is 415 -32600 naming its Content-Encoding on every leg, and nothing reaches the upstream', async () => {
    upstream.hits.length = 0;
    for (const [instance, headers, extra] of LEGS) {
      for (const encoding of ['gzip', 'Deflate', 'br']) {
        const response = await postRaw(instance, { 'content-encoding': encoding, ...headers }, new Uint8Array(gzipSync(callText(extra))));
        await assertRefused(response, 415, -32600, `Unsupported Content-Encoding "${encoding.toLowerCase()}": send the body uncompressed`, `${instance} ${encoding}`);
      }
      // `identity` is no encoding at all.
      const plain = await postRaw(instance, { 'content-encoding': 'identity', ...headers }, pingText(extra));
      assert.notEqual(plain.status, 415, instance);
      await plain.arrayBuffer();
    }
    assert.equal(upstream.hits.length, 0);
  });

  test('a body declared in another charset than UTF-8 is 415 -32600 on every leg; UTF-8 under any spelling is served', async () => {
    upstream.hits.length = 0;
    for (const [instance, headers, extra] of LEGS) {
      for (const charset of ['iso-8859-1', 'utf-16', '']) {
        const response = await postRaw(instance, { ...headers, 'content-type': `application/json; charset=${charset}` }, callText(extra));
        const named = charset === '' ? 'an empty charset' : charset;
        await assertRefused(response, 415, -32600, `Unsupported charset: send the body as UTF-8 JSON, not ${named} (RFC 8259 § 8.1)`, `${instance} ${charset}`);
      }
    }
    assert.equal(upstream.hits.length, 0);
    for (const [instance, headers, extra] of LEGS) {
      const response = await postRaw(instance, { ...headers, 'content-type': 'application/json; charset=UTF-8' }, pingText(extra));
      assert.notEqual(response.status, 415, instance);
      await response.arrayBuffer();
    }
  });

  test('malformed params of tools/list, logging/setLevel and initialize are 400 -32602 naming the field, not internal errors; so is a batch reusing an id', async () => {
    const cases: Array<[string, unknown, Record<string, string>, RegExp]> = [
      ['stateless', { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { cursor: { a: 1 } } }, { 'mcp-protocol-version': '2025-11-25' }, /"cursor" must be a string/],
      ['stateless', { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { cursor: 1, _meta: MODERN_META } }, {}, /"cursor" must be a string/],
      ['stateless', { jsonrpc: '2.0', id: 3, method: 'logging/setLevel', params: { level: 'verbose' } }, { 'mcp-protocol-version': '2025-11-25' }, /"level" must be one of/],
      ['stateful', { jsonrpc: '2.0', id: 3, method: 'initialize', params: { protocolVersion: 5 } }, {}, /"protocolVersion" must be a string/],
    ];
    for (const [instance, body, headers, pattern] of cases) {
      const answer = await post(instance, body, headers);
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.json().error.code, -32602, answer.text);
      assert.equal(answer.json().id, 3);
      assert.match(answer.json().error.message, pattern);
    }
    upstream.hits.length = 0;
    const twice = await post('stateless', [callMessage(8), callMessage(8)]);
    assert.equal(twice.status, 400);
    assert.match(twice.json().error.message, /two requests in the batch have the id 8/);
    assert.equal(upstream.hits.length, 0, 'neither call ran');
  });

  test('a 2026-07-28 request that carries a live session id is served as 2026-07-28, which has no sessions', async () => {
    const { client, transport } = await connectLegacy(url('stateful'));
    try {
      const sessionId = transport.sessionId as string;
      const answer = await post('stateful', { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: MODERN_META } }, {
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/list',
      });
      assert.equal(answer.status, 200, answer.text);
      const result = answer.json().result;
      assert.deepEqual(result.tools.map((tool: { name: string }) => tool.name).sort(), ['echo', 'escapes', 'plain']);
      assert.equal(result.resultType, 'complete', 'the 2026-07-28 answer shape');
      assert.equal((await client.listTools()).tools.length, 3, 'the session itself goes on');
    } finally {
      await client.close();
    }
  });

  test('JSON-RPC batches are 400 -32600 at 2025-06-18 and later, 2026-07-28 included', async () => {
    const batch = [callMessage(1), callMessage(2)];
    for (const version of ['2025-06-18', '2025-11-25', '2026-07-28']) {
      const answer = await post('stateless', batch, { 'mcp-protocol-version': version });
      assert.equal(answer.status, 400, version);
      const error = answer.json().error;
      assert.equal(error.code, -32600, version);
      assert.match(error.message, /batches are not part of MCP/);
    }
    assert.equal(upstream.hits.length, 0, 'no call of a refused batch ran');
  });

  test('below 2025-06-18 a batch holds at most 10 messages; 100 are refused', async () => {
    const batchOf = (n: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/list' }));
    for (const headers of [{}, { 'mcp-protocol-version': '2025-03-26' }] as Array<Record<string, string>>) {
      const ten = await post('stateless', batchOf(10), headers);
      assert.equal(ten.status, 200);
      assert.equal(ten.text.match(/"result"/g)?.length, 10, 'ten answers');
      for (const n of [11, 100]) {
        const over = await post('stateless', batchOf(n), headers);
        assert.equal(over.status, 400);
        assert.equal(over.json().error.code, -32600);
        assert.match(over.json().error.message, new RegExp(`at most 10 messages \\(this one holds ${n}\\)`));
      }
    }
  });

  test('each call of a batch counts against the limits', async () => {
    const limited = await startTestGateway({ limits: { principal: { ratePerMinute: 3, concurrency: 0 } } });
    try {
      await limited.admin('PUT', '/admin/tds/echo', tool('echo', upstream.url, '/echo'));
      await limited.admin('PUT', '/admin/ids/i', { name: 'i', tool_ids: ['echo'], metadata: { proto_type: 'streamable-stateless' } });
      const send = (body: unknown) =>
        fetch(`${limited.url}/mcp/i`, {
          method: 'POST',
          headers: { ...TEST_AUTH, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify(body),
        });
      const hitsBefore = upstream.hits.length;
      const refused = await send([callMessage(1), callMessage(2), callMessage(3), callMessage(4)]);
      assert.equal(refused.status, 429);
      const errors = (await refused.json()) as Array<{ id: number; error: { message: string } }>;
      assert.deepEqual(errors.map((error) => error.id), [1, 2, 3, 4], 'one error per call, with its id');
      assert.match(errors[0]!.error.message, /allows 3 calls per minute \(this request holds 4 calls\); send fewer calls per request/);
      assert.equal(upstream.hits.length, hitsBefore);
      const admitted = await send([callMessage(1), callMessage(2), callMessage(3)]);
      assert.equal(admitted.status, 200);
      assert.equal((await admitted.text()).match(/"result"/g)?.length, 3);
      assert.equal(upstream.hits.length, hitsBefore + 3);
      assert.equal((await send(callMessage(9))).status, 429, 'the three calls of the batch took the three tokens');
    } finally {
      await limited.stop();
    }
  });

  test('tools/call arguments nested 50 000 deep are 400 -32602 with the id, on every leg, never 500', async () => {
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    const body = (id: number, meta = '') =>
      `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":${deep}${meta}}}`;
    const session = await connectLegacy(url('stateful'));
    try {
      const legs: Array<[string, string, number, string, Record<string, string>]> = [
        ['2025 stateless', 'stateless', 11, body(11), { 'mcp-protocol-version': '2025-06-18' }],
        ['2025 session', 'stateful', 12, body(12), { 'mcp-protocol-version': '2025-11-25', 'mcp-session-id': session.transport.sessionId! }],
        [
          '2026-07-28',
          'stateless',
          13,
          body(13, `,"_meta":${JSON.stringify(MODERN_META)}`),
          { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
        ],
      ];
      for (const [leg, instance, id, text, headers] of legs) {
        const answer = await post(instance, text, headers);
        assert.equal(answer.status, 400, leg);
        const reply = answer.json();
        assert.equal(reply.error.code, -32602, leg);
        assert.equal(reply.id, id, leg);
        assert.match(reply.error.message, /deeper than 64 levels/);
      }
      // The gateway and the session are fine afterwards.
      assert.equal((await session.client.callTool({ name: 'echo', arguments: {} })).isError, undefined);
    } finally {
      await session.transport.terminateSession();
      await session.client.close();
    }
  });

  test('a result over mcp.maxResultBytes as sent (after JSON escaping) becomes a tool error saying so', async () => {
    const modern = await connectModern(url('stateless'));
    const legacy = await connectLegacy(url('stateful'));
    try {
      for (const client of [modern.client, legacy.client]) {
        const escaped = await client.callTool({ name: 'escapes', arguments: {} });
        assert.equal(escaped.isError, true);
        const text = (escaped.content as Array<{ text: string }>)[0]!.text;
        assert.match(text, /^Tool "escapes" produced \d+ bytes as sent, more than this gateway's limit of 1048576 bytes \(mcp.maxResultBytes\)/);
        assert.ok(text.length < 1000, 'the answer itself is not sent');
        // The same 300 KB that needs no escaping fits.
        const plain = await client.callTool({ name: 'plain', arguments: {} });
        assert.equal(plain.isError, undefined);
      }
      const logged = log.lines.filter((line) => line.message === 'tool call' && line.meta.outcome === 'result_too_large');
      assert.equal(logged.length, 2, 'each refusal has its log line');
    } finally {
      await legacy.transport.terminateSession();
      await legacy.client.close();
      await modern.client.close();
    }
  });

  test('an unsupported MCP-Protocol-Version is 400 naming every version, 2026-07-28 included, on every leg', async () => {
    const session = await connectLegacy(url('stateful'));
    try {
      const list = { jsonrpc: '2.0', id: 5, method: 'tools/list' };
      const cases: Array<[string, string, unknown, Record<string, string>]> = [
        ['2025 stateless', 'stateless', list, {}],
        ['2025 session', 'stateful', list, { 'mcp-session-id': session.transport.sessionId! }],
        ['2026-07-28', 'stateless', { ...list, params: { _meta: { ...MODERN_META, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } }, {}],
      ];
      for (const [leg, instance, body, headers] of cases) {
        const answer = await post(instance, body, { 'mcp-protocol-version': leg === '2026-07-28' ? '2099-01-01' : '1999-01-01', ...headers });
        assert.equal(answer.status, 400, leg);
        const reply = answer.json();
        assert.equal(reply.jsonrpc, '2.0');
        assert.equal(reply.id, 5);
        assert.equal(reply.error.code, leg === '2026-07-28' ? -32022 : -32000, leg);
        for (const version of ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']) assert.ok(reply.error.message.includes(version), `${leg}: ${version}`);
        assert.ok(reply.error.data.supported.includes('2026-07-28'));
      }
    } finally {
      await session.transport.terminateSession();
      await session.client.close();
    }
  });

  test('a stateless instance promises tools.listChanged only to clients it can notify', async () => {
    const stateless2025 = await connectLegacy(url('stateless'));
    const stateless2026 = await connectModern(url('stateless'));
    const stateful2025 = await connectLegacy(url('stateful'));
    try {
      assert.notEqual(stateless2025.client.getServerCapabilities()?.tools?.listChanged, true, 'no GET stream: no promise');
      assert.ok(stateless2025.client.getServerCapabilities()?.tools, 'tools are still served');
      assert.equal(stateless2026.client.getServerCapabilities()?.tools?.listChanged, true, 'subscriptions/listen delivers it');
      assert.equal(stateful2025.client.getServerCapabilities()?.tools?.listChanged, true, 'the session GET stream delivers it');
    } finally {
      await stateful2025.transport.terminateSession();
      for (const { client } of [stateless2025, stateless2026, stateful2025]) await client.close();
    }
  });
});
