/**
 * OpenTelemetry traces end to end: a real gateway configured by `OTEL_*` variables, a real
 * upstream, the official MCP clients of both eras, and an OTLP/HTTP receiver (JSON encoding) that
 * decodes the exported spans.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startUpstream, type TestUpstream, type UpstreamHit } from '@dynmcp/testing';
import { connectLegacy, connectModern, TEST_AUTH } from '../test-support/mcp-clients.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../test-support/otlp-receiver.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';
import { tracingSettingsFrom } from './tracing-settings.js';

const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
const SECRET_QUERY = 'query-value-never-traced';

const tool = (upstream: string) => ({
  name: 'lookup',
  description: 'looks something up',
  input_schema: { type: 'object', properties: { q: { type: 'string' } } },
  tds_ext_info: { domain: upstream, method: 'GET', path: '/lookup', ext_info: { headers: { 'x-api-key': 'upstream-credential' } } },
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Parses a `traceparent` header: version, trace id, parent span id, flags. */
function parseTraceparent(value: unknown): { traceId: string; spanId: string; flags: string } {
  assert.equal(typeof value, 'string', 'a traceparent header was sent');
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value as string);
  assert.ok(match, `traceparent ${String(value)} is W3C Trace Context`);
  return { traceId: match[1] as string, spanId: match[2] as string, flags: match[3] as string };
}

/** The three spans of one traced tool call, found by trace id, with their parent links checked. */
function callSpans(spans: ReceivedSpan[], traceId: string) {
  const ofTrace = spans.filter((span) => span.traceId === traceId);
  const server = ofTrace.find((span) => span.name === 'mcp tools/call');
  const call = ofTrace.find((span) => span.name === 'tools/call lookup');
  const upstream = ofTrace.find((span) => span.name === 'HTTP GET');
  assert.ok(server && call && upstream, `request, tool call and upstream spans in trace ${traceId}: ${ofTrace.map((s) => s.name).join(', ')}`);
  assert.equal(server.kind, SPAN_KIND.server);
  assert.equal(call.kind, SPAN_KIND.internal);
  assert.equal(upstream.kind, SPAN_KIND.client);
  assert.equal(call.parentSpanId, server.spanId, 'the tool call is a child of the request');
  assert.equal(upstream.parentSpanId, call.spanId, 'the upstream request is a child of the tool call');
  return { server, call, upstream };
}

describe('tracing with OTEL_* set', () => {
  let receiver: OtlpReceiver;
  let upstream: TestUpstream;
  let gw: TestGateway | undefined;
  const hits: UpstreamHit[] = [];

  before(async () => {
    receiver = await startOtlpReceiver();
    upstream = await startUpstream((hit, res) => {
      hits.push(hit);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"found":true}');
    });
    gw = await startTestGateway({}, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } });
    assert.equal((await gw.admin('PUT', '/admin/tds/lookup', tool(upstream.url))).status, 200);
    assert.equal((await gw.admin('PUT', '/admin/ids/traced', { name: 'traced', tool_ids: ['lookup'] })).status, 200);
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
    await receiver?.close();
  });

  test('continues the caller trace (header and _meta), starts new ones, and sends traceparent upstream', async () => {
    assert.ok(gw);
    const headerTrace = { traceId: hex(16), spanId: hex(8) };
    const metaTrace = { traceId: hex(16), spanId: hex(8) };
    const traceparent = (t: { traceId: string; spanId: string }) => `00-${t.traceId}-${t.spanId}-01`;

    // A 2026-07-28 client sending `traceparent` as an HTTP header on every request.
    const modern = await connectModern(`${gw.url}/mcp/traced`, { ...TEST_AUTH, traceparent: traceparent(headerTrace) });
    const byHeader = await modern.client.callTool({ name: 'lookup', arguments: { q: SECRET_QUERY } });
    assert.notEqual(byHeader.isError, true);
    await modern.client.close();
    const headerHit = hits.at(-1);
    // A progress token sends the call through the SDK's handler rather than the fast path.
    const sdkTrace = { traceId: hex(16), spanId: hex(8) };
    const viaSdk = await connectModern(`${gw.url}/mcp/traced`, { ...TEST_AUTH, traceparent: traceparent(sdkTrace) });
    assert.notEqual((await viaSdk.client.callTool({ name: 'lookup', arguments: { q: 'a' } }, { onprogress: () => undefined })).isError, true);
    await viaSdk.client.close();
    const sdkHit = hits.at(-1);
    // A client putting it in the request's `_meta` (SEP-414), no header.
    const metaClient = await connectModern(`${gw.url}/mcp/traced`);
    const byMeta = await metaClient.client.callTool({ name: 'lookup', arguments: { q: 'b' }, _meta: { traceparent: traceparent(metaTrace) } });
    assert.notEqual(byMeta.isError, true);
    await metaClient.client.close();
    const metaHit = hits.at(-1);
    // A 2025-era session without any trace context: a new trace.
    const legacy = await connectLegacy(`${gw.url}/mcp/traced`);
    assert.notEqual((await legacy.client.callTool({ name: 'lookup', arguments: { q: 'c' } })).isError, true);
    await legacy.client.close();
    const legacyHit = hits.at(-1);

    // Closing the gateway exports the spans still buffered.
    await gw.stop();
    gw = undefined;
    const spans = receiver.spans();

    // The header's trace: the request span's parent is the caller's span; the upstream saw the upstream span.
    const header = callSpans(spans, headerTrace.traceId);
    assert.equal(header.server.parentSpanId, headerTrace.spanId, "the request span continues the caller's span");
    assert.equal(header.server.serviceName, 'dynmcp');
    assert.equal(header.server.attributes['dynmcp.instance.id'], 'traced');
    assert.equal(header.server.attributes['mcp.method.name'], 'tools/call');
    assert.equal(header.server.attributes['dynmcp.era'], '2026-07-28');
    assert.equal(header.server.attributes['http.response.status_code'], 200);
    assert.equal(header.call.attributes['dynmcp.instance.id'], 'traced');
    assert.equal(header.call.attributes['gen_ai.tool.name'], 'lookup');
    assert.equal(header.call.attributes['dynmcp.tool.outcome'], 'ok');
    assert.deepEqual(header.call.events.map((event) => [event.name, event.attributes['dynmcp.arguments.valid']]), [['arguments validated', true]]);
    assert.equal(header.upstream.attributes['http.request.method'], 'GET');
    assert.equal(header.upstream.attributes['server.address'], '127.0.0.1');
    assert.equal(header.upstream.attributes['http.response.status_code'], 200);
    const sentUpstream = parseTraceparent(headerHit?.headers.traceparent);
    assert.equal(sentUpstream.traceId, headerTrace.traceId, "the upstream gets the caller's trace id");
    assert.equal(sentUpstream.spanId, header.upstream.spanId, 'with the upstream span as its parent');
    assert.equal(sentUpstream.flags, '01');

    // The SDK handler's route keeps the links too.
    assert.equal(callSpans(spans, sdkTrace.traceId).server.parentSpanId, sdkTrace.spanId);
    assert.equal(parseTraceparent(sdkHit?.headers.traceparent).traceId, sdkTrace.traceId);

    // The `_meta` trace.
    const meta = callSpans(spans, metaTrace.traceId);
    assert.equal(meta.server.parentSpanId, metaTrace.spanId);
    assert.equal(parseTraceparent(metaHit?.headers.traceparent).traceId, metaTrace.traceId);

    // No trace context: a new trace, rooted at the request span, through the 2025 session route.
    const fresh = parseTraceparent(legacyHit?.headers.traceparent);
    assert.ok(![headerTrace.traceId, metaTrace.traceId].includes(fresh.traceId));
    const legacySpans = callSpans(spans, fresh.traceId);
    assert.ok(!legacySpans.server.parentSpanId, 'the request span is a root');
    assert.equal(legacySpans.server.attributes['dynmcp.era'], '2025');

    // Neither the query string nor any header value is in a span.
    const exported = JSON.stringify(spans);
    assert.ok(!exported.includes(SECRET_QUERY), 'query values are never recorded');
    assert.ok(!exported.includes('upstream-credential'), 'header values are never recorded');
    assert.ok(!exported.includes('test-admin-key'), 'credentials are never recorded');
  });
});

describe('tracing off: OTEL_* unset, or OTEL_SDK_DISABLED=true', () => {
  const cases = [
    ['unset', () => ({})],
    ['disabled', (receiver: OtlpReceiver) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_SDK_DISABLED: 'true' })],
  ] as const;
  for (const [name, envOf] of cases) {
    test(`${name}: exports nothing and sends no traceparent upstream, even when the caller sent one`, async () => {
      const receiver = await startOtlpReceiver();
      const hits: UpstreamHit[] = [];
      const upstream = await startUpstream((hit, res) => {
        hits.push(hit);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
      const gw = await startTestGateway({}, { env: envOf(receiver) });
      try {
        assert.equal((await gw.admin('PUT', '/admin/tds/lookup', tool(upstream.url))).status, 200);
        assert.equal((await gw.admin('PUT', '/admin/ids/plain', { name: 'plain', tool_ids: ['lookup'] })).status, 200);
        const modern = await connectModern(`${gw.url}/mcp/plain`, { ...TEST_AUTH, traceparent: `00-${hex(16)}-${hex(8)}-01` });
        assert.notEqual((await modern.client.callTool({ name: 'lookup', arguments: { q: 'a' } })).isError, true);
        await modern.client.close();
      } finally {
        await gw.stop();
      }
      assert.equal(hits.length, 1);
      assert.equal(hits[0]?.headers.traceparent, undefined);
      assert.equal(hits[0]?.headers.tracestate, undefined);
      assert.equal(receiver.requests(), 0);
      await upstream.close();
      await receiver.close();
    });
  }
});

describe('tracing with the default protocol', () => {
  test('exports OTLP/HTTP protobuf to the traces endpoint as given', async () => {
    const receiver = await startOtlpReceiver();
    const gw = await startTestGateway({}, { env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` } });
    try {
      assert.equal((await gw.admin('PUT', '/admin/ids/empty', { name: 'empty', tool_ids: [] })).status, 200);
      const modern = await connectModern(`${gw.url}/mcp/empty`);
      assert.deepEqual((await modern.client.listTools()).tools, []);
      await modern.client.close();
    } finally {
      await gw.stop();
      await receiver.close();
    }
    assert.ok(receiver.contentTypes().length > 0, 'spans were exported');
    assert.ok(receiver.contentTypes().every((type) => type === 'application/x-protobuf'), receiver.contentTypes().join());
  });
});

describe('tracing settings from OTEL_* variables', () => {
  test('on with an endpoint, off without one or when the SDK is disabled; protocol and service name', () => {
    assert.equal(tracingSettingsFrom({}), undefined);
    assert.equal(tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.deepEqual(tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), {
      url: 'http://c:4318/v1/traces',
      protocol: 'http/protobuf',
      serviceName: 'dynmcp',
    });
    assert.deepEqual(
      tracingSettingsFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'edge-gateway',
      }),
      { url: 'http://c:4318/custom', protocol: 'http/json', serviceName: 'edge-gateway' },
    );
    assert.throws(() => tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL "grpc" is not supported; use http\/protobuf or http\/json/);
  });
});
