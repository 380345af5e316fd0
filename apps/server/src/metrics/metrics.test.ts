/**
 * `GET /metrics` end to end: a real gateway, a real upstream, the official MCP clients of both
 * eras, and the exposition read with a Prometheus text parser.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { silentLogger, type Logger } from '@dynmcp/plugin';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectLegacy, connectModern } from '../test-support/mcp-clients.js';
import { parseMetrics, scrape } from '../test-support/scrape-metrics.js';
import { createMetricsListener } from './metrics-route.js';
import { startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

const tool = (upstream: string, name: string, path: string) => ({
  name,
  description: `tool ${name}`,
  input_schema: { type: 'object', properties: { q: { type: 'string' } } },
  tds_ext_info: { domain: upstream, method: 'GET', path },
});

describe('metrics of tool calls, requests and definitions', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream((hit, res) => {
      const failing = hit.pathname === '/fail';
      res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: !failing }));
    });
    gw = await startTestGateway();
    assert.equal((await gw.admin('PUT', '/admin/tds/alpha', tool(upstream.url, 'alpha', '/ok'))).status, 200);
    assert.equal((await gw.admin('PUT', '/admin/tds/broken', tool(upstream.url, 'broken', '/fail'))).status, 200);
    assert.equal((await gw.admin('PUT', '/admin/ids/m', { name: 'm', tool_ids: ['alpha', 'broken'] })).status, 200);
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  test('counts calls, upstream answers, durations, requests and refusals with labels from the definitions only', async () => {
    const modern = await connectModern(`${gw.url}/mcp/m`);
    const legacy = await connectLegacy(`${gw.url}/mcp/m`);
    try {
      for (let i = 0; i < 2; i += 1) assert.notEqual((await modern.client.callTool({ name: 'alpha', arguments: { q: 'x' } })).isError, true);
      assert.equal((await modern.client.callTool({ name: 'broken', arguments: {} })).isError, true);
      assert.equal((await modern.client.callTool({ name: 'alpha', arguments: { q: 5 } })).isError, true);
      await assert.rejects(modern.client.callTool({ name: 'ghost-tool', arguments: {} }));
      assert.notEqual((await legacy.client.callTool({ name: 'alpha', arguments: { q: 'y' } })).isError, true);
      const unknownInstance = await fetch(`${gw.url}/mcp/ghost-instance`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
      });
      assert.equal(unknownInstance.status, 404);

      const answer = await scrape(`${gw.url}/metrics`);
      assert.equal(answer.status, 200);
      assert.match(answer.type ?? '', /^text\/plain; version=0\.0\.4/);
      const metrics = parseMetrics(answer.text);
      const alpha = { instance: 'm', tool: 'alpha' };
      const broken = { instance: 'm', tool: 'broken' };

      assert.equal(metrics.types.get('dynmcp_tool_calls_total'), 'COUNTER');
      assert.equal(metrics.types.get('dynmcp_tool_call_duration_seconds'), 'HISTOGRAM');
      assert.equal(metrics.value('dynmcp_tool_calls_total', { ...alpha, outcome: 'ok' }), 3);
      assert.equal(metrics.value('dynmcp_tool_calls_total', { ...alpha, outcome: 'invalid_arguments' }), 1);
      assert.equal(metrics.value('dynmcp_tool_calls_total', { ...broken, outcome: 'error' }), 1);
      assert.equal(metrics.value('dynmcp_upstream_responses_total', { ...alpha, status_class: '2xx' }), 3);
      assert.equal(metrics.value('dynmcp_upstream_responses_total', { ...broken, status_class: '5xx' }), 1);
      // The invalid call never reached the upstream.
      assert.equal(metrics.samples.filter((s) => s.name === 'dynmcp_upstream_responses_total' && s.labels.tool === 'alpha').length, 1);

      assert.equal(metrics.value('dynmcp_tool_call_duration_seconds_count', alpha), 4);
      assert.equal(metrics.value('dynmcp_tool_call_duration_seconds_bucket', { ...alpha, le: '+Inf' }), 4);
      assert.equal(metrics.value('dynmcp_tool_call_duration_seconds_count', broken), 1);
      assert.ok((metrics.value('dynmcp_tool_call_duration_seconds_sum', alpha) ?? -1) >= 0);
      const buckets = metrics.samples.filter((s) => s.name === 'dynmcp_tool_call_duration_seconds_bucket' && s.labels.tool === 'alpha');
      assert.equal(buckets.length, 13);
      for (let i = 1; i < buckets.length; i += 1) assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0), 'buckets are cumulative');

      assert.deepEqual(metrics.withLabel('tool', 'ghost-tool'), [], 'an unknown tool name creates no series');
      assert.deepEqual(metrics.withLabel('instance', 'ghost-instance'), [], 'an unknown instance id creates no series');
      assert.equal(metrics.value('dynmcp_rejections_total', { reason: 'unknown_tool' }), 1);
      assert.equal(metrics.value('dynmcp_rejections_total', { reason: 'validation' }), 1);
      assert.equal(metrics.value('dynmcp_rejections_total', { reason: 'not_found' }), 1);
      assert.equal(metrics.value('dynmcp_rejections_total', { reason: 'egress' }), 0);

      assert.equal(metrics.value('dynmcp_mcp_requests_total', { method: 'tools/call', era: '2026-07-28' }), 5);
      assert.equal(metrics.value('dynmcp_mcp_requests_total', { method: 'tools/call', era: '2025' }), 1);
      assert.equal(metrics.value('dynmcp_mcp_requests_total', { method: 'initialize', era: '2025' }), 1);
      assert.ok((metrics.value('dynmcp_mcp_requests_total', { method: 'server/discover', era: '2026-07-28' }) ?? 0) >= 1);
      assert.equal(metrics.value('dynmcp_sessions'), 1);
      assert.equal(metrics.value('dynmcp_store_connected'), 1);
      assert.ok((metrics.value('dynmcp_store_sync_age_seconds') ?? -1) >= 0);
      assert.equal(metrics.value('dynmcp_config_revision'), gw.definitions.revision);
      assert.ok(metrics.types.has('process_cpu_user_seconds_total'), 'default process metrics');
      assert.ok(metrics.types.has('nodejs_heap_size_used_bytes'), 'default Node.js metrics');
    } finally {
      await modern.client.close();
      await legacy.transport.terminateSession().catch(() => undefined);
      await legacy.client.close();
    }
  });

  test('the revision gauge follows an admin write, and a tool that leaves its instance loses its series', async () => {
    const before = parseMetrics((await scrape(`${gw.url}/metrics`)).text);
    assert.ok((before.value('dynmcp_tool_calls_total', { instance: 'm', tool: 'broken', outcome: 'error' }) ?? 0) >= 1);
    const write = await gw.admin('PUT', '/admin/ids/m', { name: 'm', tool_ids: ['alpha'] });
    assert.equal(write.status, 200);
    const after = parseMetrics((await scrape(`${gw.url}/metrics`)).text);
    assert.ok((after.value('dynmcp_config_revision') ?? 0) > (before.value('dynmcp_config_revision') ?? 0));
    assert.equal(after.value('dynmcp_config_revision'), gw.definitions.revision);
    assert.deepEqual(after.withLabel('tool', 'broken'), []);
    assert.ok((after.value('dynmcp_tool_calls_total', { instance: 'm', tool: 'alpha', outcome: 'ok' }) ?? 0) >= 3, 'the others stay');
    assert.equal(after.value('dynmcp_sessions'), 0);
  });
});

test('a call the egress policy stops counts as an egress rejection, with its upstream answer "none"', async () => {
  const upstream = await startUpstream();
  // Written while loopback is allowed (development), then served by a gateway that denies it.
  const writer = await startTestGateway();
  assert.equal((await writer.admin('PUT', '/admin/tds/local', tool(upstream.url, 'local', '/x'))).status, 200);
  assert.equal((await writer.admin('PUT', '/admin/ids/e', { name: 'e', tool_ids: ['local'] })).status, 200);
  await writer.close();
  const gw = await startTestGateway({ executor: { egress: { deny: ['127.0.0.0/8'] } } }, { dataDir: writer.dataDir });
  try {
    const { client } = await connectModern(`${gw.url}/mcp/e`);
    try {
      assert.equal((await client.callTool({ name: 'local', arguments: {} })).isError, true);
    } finally {
      await client.close();
    }
    assert.equal(upstream.hits.length, 0);
    const metrics = parseMetrics((await scrape(`${gw.url}/metrics`)).text);
    assert.equal(metrics.value('dynmcp_rejections_total', { reason: 'egress' }), 1);
    assert.equal(metrics.value('dynmcp_upstream_responses_total', { instance: 'e', tool: 'local', status_class: 'none' }), 1);
    assert.equal(metrics.value('dynmcp_tool_calls_total', { instance: 'e', tool: 'local', outcome: 'error' }), 1);
  } finally {
    await gw.stop();
    rmSync(writer.dataDir, { recursive: true, force: true });
    await upstream.close();
  }
});

describe('access to /metrics', () => {
  test('needs an admin credential by default: 401 without, 429 after too many failures, as /admin', async () => {
    const gw = await startTestGateway({ auth: { maxFailures: 2, failureWindowMs: 60_000 } });
    try {
      const anonymous = await scrape(`${gw.url}/metrics`, false);
      assert.equal(anonymous.status, 401);
      assert.equal(JSON.parse(anonymous.text).error_code, 'UNAUTHORIZED');
      const wrong = await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer wrong-key' } });
      assert.equal(wrong.status, 401);
      // Two failures: blocked now, on /metrics and /admin alike, whatever the credential.
      const blocked = await scrape(`${gw.url}/metrics`);
      assert.equal(blocked.status, 429);
      assert.equal(JSON.parse(blocked.text).error_code, 'TOO_MANY_REQUESTS');
      assert.equal((await gw.admin('GET', '/admin/tds')).status, 429);
    } finally {
      await gw.stop();
    }
  });

  test('is open with metrics.public', async () => {
    const gw = await startTestGateway({ metrics: { public: true } });
    try {
      const answer = await scrape(`${gw.url}/metrics`, false);
      assert.equal(answer.status, 200);
      assert.ok(parseMetrics(answer.text).types.has('dynmcp_config_revision'));
    } finally {
      await gw.stop();
    }
  });

  test('with metrics.port, is served on that listener only', async () => {
    const gw = await startTestGateway({ metrics: { port: 0 } });
    try {
      assert.ok(gw.metricsPort !== undefined && gw.metricsPort !== gw.port);
      const answer = await scrape(`http://127.0.0.1:${gw.metricsPort}/metrics`, false);
      assert.equal(answer.status, 200);
      assert.equal(parseMetrics(answer.text).value('dynmcp_store_connected'), 1);
      assert.equal((await scrape(`${gw.url}/metrics`)).status, 404);
      assert.equal((await scrape(`http://127.0.0.1:${gw.metricsPort}/admin/tds`)).status, 404);
    } finally {
      await gw.stop();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${gw.metricsPort}/metrics`), 'closed with the gateway');
  });

  test('with metrics.enabled false, /metrics is 404, metrics.port opens nothing (with a warning), and tools/call still works', async () => {
    const upstream = await startUpstream();
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (message) => void warnings.push(message), child: () => logger };
    const gw = await startTestGateway({ metrics: { enabled: false, port: 0 } }, { logger });
    try {
      assert.equal(gw.metricsPort, undefined);
      assert.ok(warnings.some((message) => message.includes('metrics.port is ignored')), warnings.join('; '));
      const answer = await scrape(`${gw.url}/metrics`);
      assert.equal(answer.status, 404);
      assert.equal(JSON.parse(answer.text).error_code, 'NOT_FOUND');
      assert.equal((await gw.admin('PUT', '/admin/tds/alpha', tool(upstream.url, 'alpha', '/ok'))).status, 200);
      assert.equal((await gw.admin('PUT', '/admin/ids/off', { name: 'off', tool_ids: ['alpha'] })).status, 200);
      const { client } = await connectModern(`${gw.url}/mcp/off`);
      try {
        assert.notEqual((await client.callTool({ name: 'alpha', arguments: { q: 'x' } })).isError, true);
      } finally {
        await client.close();
      }
      assert.equal(upstream.hits.length, 1);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});

test('metrics that cannot be collected (a worker of the group did not answer) are a 503 METRICS_UNAVAILABLE with Retry-After, never a 500', async () => {
  const failing = { render: () => Promise.reject(new Error('the cluster primary did not gather the metrics within 5000 ms')) };
  const server = createServer(createMetricsListener(failing as never, silentLogger));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '1');
    const body = (await response.json()) as { error_code: string; error: string };
    assert.equal(body.error_code, 'METRICS_UNAVAILABLE');
    assert.match(body.error, /retry on the next scrape/);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
