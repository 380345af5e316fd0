/**
 * The dispatch table of `/mcp/<instanceId>` (`routeOf`): each protocol era, instance mode and
 * method lands on the route the table names. The answers of each route are tested in
 * fast-path.test.ts here and end to end in apps/server/src/mcp/.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { buildInstanceView, compileToolDefinition, createSchemaCompiler, toolListing, type LiveTool } from '@dynmcp/common';
import { silentLogger, type ProtoType } from '@dynmcp/plugin';
import { routeOf } from './mcp-gateway.js';
import { encodeToolsCursor } from './tool-pages.js';

const compiled = compileToolDefinition(
  { id: 't', name: 'echo', input_schema: { type: 'object' }, tds_ext_info: { domain: 'api.example.com', method: 'GET', path: '/' } },
  createSchemaCompiler(),
);
const tool: LiveTool = { ...compiled, revision: 1, listing: toolListing(compiled.definition) };
const view = (mode: ProtoType) =>
  buildInstanceView({ id: 'i', name: 'i', tool_ids: ['t'] }, mode, new Map([['t', tool]]), silentLogger);
const stateful = view('streamable-stateful');
const stateless = view('streamable-stateless');

/** Only what routing reads of a request: its method and headers. */
const request = (method: string, headers: Record<string, string> = {}) => ({ method, headers }) as unknown as IncomingMessage;

const modernMeta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const modernHeaders = (method: string, name?: string) => ({
  accept: 'application/json, text/event-stream',
  'content-type': 'application/json',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': method,
  ...(name === undefined ? {} : { 'mcp-name': name }),
});
const modernCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: {}, _meta: modernMeta } };
const modernList = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: modernMeta } };
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};
const legacyCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } };

test('plain 2026-07-28 tools/list and tools/call take the fast route on either instance mode', () => {
  for (const instance of [stateful, stateless]) {
    assert.equal(routeOf(request('POST', modernHeaders('tools/call', 'echo')), modernCall, instance, 500), 'fast');
    assert.equal(routeOf(request('POST', modernHeaders('tools/list')), modernList, instance, 500), 'fast');
    // Pages too: a listing longer than a page, and a later page by the gateway's own cursor.
    assert.equal(routeOf(request('POST', modernHeaders('tools/list')), modernList, instance, 1), 'fast');
    const nextPage = { ...modernList, params: { ...modernList.params, cursor: encodeToolsCursor({ after: 'echo', revision: 3 }) } };
    assert.equal(routeOf(request('POST', modernHeaders('tools/list')), nextPage, instance, 1), 'fast');
  }
});

test('2026-07-28 requests the fast path does not answer go to the SDK', () => {
  const withProgress = { ...modernCall, params: { ...modernCall.params, _meta: { ...modernMeta, progressToken: 'p' } } };
  assert.equal(routeOf(request('POST', modernHeaders('tools/call', 'echo')), withProgress, stateless, 500), 'sdk');
  // A cursor the gateway did not make: the SDK answers its error.
  const foreignCursor = { ...modernList, params: { ...modernList.params, cursor: 'not-ours' } };
  assert.equal(routeOf(request('POST', modernHeaders('tools/list')), foreignCursor, stateless, 500), 'sdk');
  // Headers that do not match the body: the SDK answers the error.
  assert.equal(routeOf(request('POST', modernHeaders('tools/list')), modernCall, stateless, 500), 'sdk');
  // A JSON media type other than application/json, which the front parses: the SDK answers its 415.
  const vendorJson = { ...modernHeaders('tools/list'), 'content-type': 'application/vnd.api+json' };
  assert.equal(routeOf(request('POST', vendorJson), modernList, stateless, 500), 'sdk');
  const discover = { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: modernMeta } };
  assert.equal(routeOf(request('POST', modernHeaders('server/discover')), discover, stateful, 500), 'sdk');
});

test('2025-era requests: sessions on a stateful instance, the stateless leg otherwise', () => {
  const session = { accept: 'application/json, text/event-stream', 'mcp-session-id': 's-1', 'mcp-protocol-version': '2025-11-25' };
  assert.equal(routeOf(request('POST'), initialize, stateful, 500), 'session');
  assert.equal(routeOf(request('POST', session), legacyCall, stateful, 500), 'session');
  assert.equal(routeOf(request('GET', session), undefined, stateful, 500), 'session');
  assert.equal(routeOf(request('DELETE', session), undefined, stateful, 500), 'session');
  // A session-less plain JSON-RPC POST is answered per request, even on a stateful instance.
  assert.equal(routeOf(request('POST'), legacyCall, stateful, 500), 'sdk');
  assert.equal(routeOf(request('POST'), initialize, stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', session), legacyCall, stateless, 500), 'sdk');
  assert.equal(routeOf(request('GET'), undefined, stateless, 500), 'sdk');
});

test('plain session-less 2025-era tools/list and tools/call take the legacy fast route; anything else stays with the SDK', () => {
  const plain = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  const legacyList = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
  for (const instance of [stateful, stateless]) {
    // As curl sends it (no version header), and as a 2025 client does.
    assert.equal(routeOf(request('POST', plain), legacyCall, instance, 500), 'fast-legacy');
    assert.equal(routeOf(request('POST', { ...plain, 'mcp-protocol-version': '2025-06-18' }), legacyList, instance, 500), 'fast-legacy');
  }
  const withMeta = { ...legacyCall, params: { ...legacyCall.params, _meta: { progressToken: 'p' } } };
  assert.equal(routeOf(request('POST', plain), withMeta, stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', { ...plain, 'mcp-method': 'tools/call' }), legacyCall, stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', { ...plain, 'mcp-protocol-version': '2024-11-05' }), legacyCall, stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', { ...plain, accept: 'application/json' }), legacyCall, stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', { ...plain, 'content-type': 'text/plain' }), legacyCall, stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', plain), [legacyCall], stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', plain), { ...legacyList, params: { cursor: 'c' } }, stateless, 500), 'sdk');
  assert.equal(routeOf(request('POST', plain), legacyList, stateless, 0), 'sdk');
});
