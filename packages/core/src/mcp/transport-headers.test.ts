/**
 * The routes that answer 2025-era requests without the SDK's transport refuse what the transport
 * refuses for its headers (transport-headers.ts). This pins that to the SDK itself: for each
 * method, Accept and Content-Type, the transport's own answer, so an SDK upgrade that changes a
 * check or a message fails here.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { Server, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { transportHeaderRefusal } from './transport-headers.js';

const ACCEPTS = [
  undefined,
  'application/json, text/event-stream',
  'text/event-stream, application/json;q=0.9',
  'application/json',
  'text/event-stream',
  'text/html',
  'application/*',
  '*/*',
];
const CONTENT_TYPES = [undefined, 'application/json', 'application/json; charset=utf-8', 'application/vnd.api+json', 'text/plain'];

/** The transport's answer to one request: its status and body when it is one of its header refusals. */
async function transportAnswer(method: string, headers: Record<string, string>) {
  const server = new Server({ name: 'guard', version: '1' }, { capabilities: { tools: {} } });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => 'session-1' });
  await server.connect(transport);
  try {
    const body = method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) : undefined;
    const answer = await transport.handleRequest(new Request('http://127.0.0.1/mcp/i', { method, headers, body }));
    return { status: answer.status, body: (await answer.json().catch(() => undefined)) as unknown };
  } finally {
    await server.close();
  }
}

test("the header refusals are the SDK transport's: same cases, status and body", async () => {
  for (const method of ['POST', 'GET', 'DELETE']) {
    for (const accept of ACCEPTS) {
      for (const contentType of method === 'POST' ? CONTENT_TYPES : [undefined]) {
        const headers: Record<string, string> = {};
        if (accept !== undefined) headers.accept = accept;
        if (contentType !== undefined) headers['content-type'] = contentType;
        const ours = transportHeaderRefusal({ method, headers } as unknown as IncomingMessage);
        const sdk = await transportAnswer(method, headers);
        const label = `${method} accept=${accept} content-type=${contentType}`;
        if (ours === undefined) {
          assert.ok(sdk.status !== 406 && sdk.status !== 415, `${label}: the transport refused it (${sdk.status})`);
          continue;
        }
        assert.equal(sdk.status, ours.status, label);
        assert.deepEqual(sdk.body, { jsonrpc: '2.0', error: { code: ours.code, message: ours.message }, id: null }, label);
      }
    }
  }
});
