import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';
import { connectLegacy, connectModern, TEST_AUTH } from '../test-support/mcp-clients.js';
import { TEST_KEY } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';

/** Patterns that backtrack catastrophically on V8's engine, with a 10k-character input that triggers it. */
const EVIL: Array<{ tool: string; pattern: string; input: string }> = [
  { tool: 'nested_plus', pattern: '^(a+)+$', input: `${'a'.repeat(10_000)}!` },
  { tool: 'overlapping', pattern: '(x+x+)+y', input: 'x'.repeat(10_000) },
  { tool: 'name_like', pattern: '^(([a-z])+.)+[A-Z]([a-z])+$', input: `${'a'.repeat(10_000)}!` },
];

const FAST_MS = 100;

/** A tool whose `query.q` argument must match `pattern`; `extra` is laid over the definition. */
function patternTool(id: string, upstream: string, pattern: string, extra: Record<string, unknown> = {}) {
  return {
    name: id,
    description: `q must match ${pattern}`,
    input_schema: {
      type: 'object',
      properties: { query: { type: 'object', properties: { q: { type: 'string', pattern } }, required: ['q'] } },
      required: ['query'],
    },
    tds_ext_info: { domain: upstream, method: 'GET', path: '/search' },
    ...extra,
  };
}

/** What these tests read of a `tools/call` result, from either SDK generation. */
interface CallResult {
  isError?: unknown;
  content?: unknown;
}

async function timed(work: () => Promise<unknown>): Promise<{ value: CallResult; ms: number }> {
  const started = performance.now();
  const value = (await work()) as CallResult;
  return { value, ms: performance.now() - started };
}

/**
 * Times `work`, trying again (twice at most) when it took longer than {@link FAST_MS}: the
 * machine is shared, and a scheduler pause is not the gateway's doing. A backtracking pattern
 * is slow every time (exponentially so), so the fastest of three still tells it apart.
 */
async function fastest(work: () => Promise<unknown>): Promise<{ value: CallResult; ms: number }> {
  let best = await timed(work);
  for (let attempt = 1; attempt < 3 && best.ms >= FAST_MS; attempt += 1) {
    const next = await timed(work);
    if (next.ms < best.ms) best = next;
  }
  return best;
}

const textOf = (result: unknown) =>
  (((result as CallResult).content ?? []) as Array<{ type: string; text?: string }>).map((block) => block.text ?? '').join('\n');

/**
 * The gateway runs as its own process: were a pattern to backtrack, it would freeze that
 * process's event loop, and this test's clocks (and its timeouts) keep running to see it.
 */
describe('patterns in tool schemas run in linear time (ReDoS)', () => {
  let gateway: GatewayProcess;
  let url: string;
  let upstream: TestUpstream;
  let dir: string;

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  before(async () => {
    upstream = await startUpstream();
    dir = mkdtempSync(join(tmpdir(), 'dynmcp-redos-'));
    gateway = startGatewayProcess({
      DYNMCP_HOST: '127.0.0.1',
      DYNMCP_PORT: '0',
      DYNMCP_API_KEYS: TEST_KEY,
      DYNMCP_DATASOURCE: 'sqlite',
      DYNMCP_SQLITE_PATH: join(dir, 'store.sqlite'),
      DYNMCP_EGRESS_ALLOW: '127.0.0.1',
    });
    url = await gateway.url;
    const tools: string[] = [];
    for (const { tool, pattern } of EVIL) {
      assert.equal((await admin('PUT', `/admin/tds/${tool}`, patternTool(tool, upstream.url, pattern))).status, 200);
      tools.push(tool);
    }
    const keys = patternTool('evil_keys', upstream.url, '.*', {
      input_schema: { type: 'object', properties: { query: { type: 'object', propertyNames: { pattern: '^(a+)+$' } } } },
    });
    const output = patternTool('evil_output', upstream.url, '.*', {
      output_schema: { type: 'object', properties: { url: { type: 'string', pattern: '(x+x+)+y' } } },
    });
    const unicode = patternTool('unicode', upstream.url, '^\\p{Lu}\\p{Ll}+$');
    for (const [id, definition] of [['evil_keys', keys], ['evil_output', output], ['unicode', unicode]] as const) {
      assert.equal((await admin('PUT', `/admin/tds/${id}`, definition)).status, 200, id);
      tools.push(id);
    }
    assert.equal((await admin('PUT', '/admin/ids/redos', { name: 'redos', tool_ids: tools })).status, 200);
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const eras = [
    { era: 'v1 client', connect: () => connectLegacy(`${url}/mcp/redos`, TEST_AUTH) },
    { era: 'v2 client', connect: () => connectModern(`${url}/mcp/redos`, TEST_AUTH) },
  ];
  for (const { era, connect } of eras) {
    test(`${era}: each adversarial call is refused in under ${FAST_MS} ms`, async () => {
      const { client } = await connect();
      try {
        // Warm the connection so the measurements are of the calls alone.
        await client.callTool({ name: 'unicode', arguments: { query: { q: 'Warm' } } });
        for (const { tool, pattern, input } of EVIL) {
          const { value, ms } = await fastest(() => client.callTool({ name: tool, arguments: { query: { q: input } } }));
          assert.equal(value.isError, true, tool);
          assert.match(textOf(value), /Invalid arguments.*must match pattern/, tool);
          assert.ok(ms < FAST_MS, `${pattern} answered in ${ms.toFixed(1)} ms`);
        }
        const keys = await fastest(() => client.callTool({ name: 'evil_keys', arguments: { query: { [`${'a'.repeat(10_000)}!`]: 1 } } }));
        assert.equal(keys.value.isError, true);
        assert.match(textOf(keys.value), /property name must be valid|must match pattern/);
        assert.ok(keys.ms < FAST_MS, `propertyNames answered in ${keys.ms.toFixed(1)} ms`);
        // The upstream echoes the request URL, ten thousand x without a y, into the checked output.
        const output = await fastest(() => client.callTool({ name: 'evil_output', arguments: { query: { q: 'x'.repeat(10_000) } } }));
        assert.equal(output.value.isError, true);
        assert.match(textOf(output.value), /does not match the tool's output_schema/);
        assert.ok(output.ms < FAST_MS, `output_schema answered in ${output.ms.toFixed(1)} ms`);
      } finally {
        await client.close();
      }
    });
  }

  test('/healthz answers fast while adversarial calls run', async () => {
    const legacy = await connectLegacy(`${url}/mcp/redos`, TEST_AUTH);
    const modern = await connectModern(`${url}/mcp/redos`, TEST_AUTH);
    const call = (i: number): Promise<unknown> => {
      const { tool, input } = EVIL[i % EVIL.length]!;
      const request = { name: tool, arguments: { query: { q: input } } };
      return i % 2 === 0 ? legacy.client.callTool(request) : modern.client.callTool(request);
    };
    try {
      const calls = Promise.all(Array.from({ length: 12 }, (_, i) => call(i)));
      const health: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const { ms } = await fastest(async () => {
          const res = await fetch(`${url}/healthz`);
          assert.equal(res.status, 200);
          return res.text();
        });
        health.push(ms);
      }
      const results = (await calls) as CallResult[];
      assert.ok(results.every((result) => result.isError === true));
      assert.ok(Math.max(...health) < FAST_MS, `/healthz took ${health.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    } finally {
      await Promise.all([legacy.client.close(), modern.client.close()]);
    }
  });

  test('Unicode patterns keep their meaning: a matching call reaches the upstream, another does not', async () => {
    const { client } = await connectLegacy(`${url}/mcp/redos`, TEST_AUTH);
    try {
      const before = upstream.hits.length;
      const ok = await client.callTool({ name: 'unicode', arguments: { query: { q: 'Élan' } } });
      assert.notEqual(ok.isError, true, textOf(ok));
      assert.equal(upstream.hits.length, before + 1);
      assert.equal(new URL(upstream.hits.at(-1)!.url, 'http://x').searchParams.get('q'), 'Élan');
      const refused = await client.callTool({ name: 'unicode', arguments: { query: { q: 'élan' } } });
      assert.equal(refused.isError, true);
      assert.equal(upstream.hits.length, before + 1);
    } finally {
      await client.close();
    }
  });

  test('a pattern the linear-time engine cannot run is refused at write time, naming it and where it is', async () => {
    const backreference = await admin('PUT', '/admin/tds/backref', patternTool('backref', upstream.url, '^(\\w)\\1$'));
    assert.equal(backreference.status, 400);
    assert.equal(backreference.body.error_code, 'INVALID_PAYLOAD');
    assert.match(backreference.body.error, /\/input_schema\/properties\/query\/properties\/q\/pattern/);
    assert.ok(backreference.body.error.includes(JSON.stringify('^(\\w)\\1$')), backreference.body.error);
    assert.match(backreference.body.error, /backreference/);

    const lookahead = await admin(
      'PUT',
      '/admin/tds/lookahead',
      patternTool('lookahead', upstream.url, '.*', {
        output_schema: { type: 'object', patternProperties: { '^(?!_)\\w+$': { type: 'string' } } },
      }),
    );
    assert.equal(lookahead.status, 400);
    assert.match(lookahead.body.error, /\/output_schema\/patternProperties\/\^\(\?!_\)\\w\+\$/);
    assert.match(lookahead.body.error, /lookahead/);
    assert.equal((await admin('GET', '/admin/tds/backref')).status, 404);
    assert.equal((await admin('GET', '/admin/tds/lookahead')).status, 404);

    const errors = gateway.lines.filter((line) => line.level === 'error');
    assert.deepEqual(errors, []);
  });
});
