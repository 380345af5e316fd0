// GET /admin/events on a real gateway over SQLite, read with fetch over real HTTP: the ready
// message, one change message per revision (a batch included), resume by Last-Event-ID or ?since,
// reset, the refusals (400, 401, 429), no stream left behind by a client that went away, and a
// shutdown that does not wait for open streams. The caps in all and the bounded history are
// tested on the handler mounted alone behind the real admin authentication, with small limits.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type ErrorRequestHandler } from 'express';
import { createApiKeyAuthProvider, createLiveDefinitions, createSchemaCompiler } from '@dynmcp/common';
import { createSqlDataSource } from '@dynmcp/datasources';
import { silentLogger } from '@dynmcp/plugin';
import { requireAdmin } from '../http/admin-auth.js';
import { createClientAddressResolver } from '../http/client-address.js';
import { sendError, toGatewayError } from '../http/envelope.js';
import { createFailureLimiter } from '../http/failure-limiter.js';
import { requestContext } from '../http/request-context.js';
import { openEventStream, type EventStreamReader, type StreamMessage } from '../test-support/event-stream-client.js';
import { echoTool, startTestGateway, TEST_KEY, type AdminResponse, type TestGateway } from '../test-support/test-gateway.js';
import { createAdminEvents, DEFAULT_MAX_STREAMS_PER_PRINCIPAL, type AdminEvents } from './admin-events.js';

const UPSTREAM = 'http://127.0.0.1:9';
const AUTH = { authorization: `Bearer ${TEST_KEY}` };

const revisionOf = (response: AdminResponse) => Number(JSON.parse(response.headers.get('etag') ?? 'null'));
const payload = (message: StreamMessage) => JSON.parse(message.data ?? 'null');

async function until(what: string, check: () => boolean, timeoutMs = 2000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe('GET /admin/events on a gateway', () => {
  let gw: TestGateway;
  const open: EventStreamReader[] = [];
  const stream = async (query = '', headers: Record<string, string> = AUTH) => {
    const reader = await openEventStream(`${gw.url}/admin/events${query}`, headers);
    open.push(reader);
    return reader;
  };

  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    for (const reader of open) reader.close();
    await gw?.stop();
  });

  test('a stream starts with ready at the current revision, with the headers proxies need', async () => {
    await gw.admin('PUT', '/admin/tds/first', echoTool('first', UPSTREAM));
    const reader = await stream();
    assert.equal(reader.status, 200);
    assert.equal(reader.headers.get('content-type'), 'text/event-stream');
    assert.equal(reader.headers.get('cache-control'), 'no-store');
    assert.equal(reader.headers.get('x-accel-buffering'), 'no');
    const ready = await reader.nextEvent();
    assert.equal(ready.event, 'ready');
    assert.equal(ready.id, String(gw.definitions.revision));
    assert.deepEqual(payload(ready), { revision: gw.definitions.revision });
    assert.ok(gw.definitions.revision > 0);
    reader.close();
  });

  test('each write is one change message at its revision, naming kinds and ids only; a batch is one message', async () => {
    const reader = await stream();
    await reader.nextEvent();
    const secret = 'description-that-must-not-leak';
    const put = await gw.admin('PUT', '/admin/tds/watched', echoTool('watched', UPSTREAM, { description: secret }));
    assert.equal(put.status, 200);
    const started = Date.now();
    const change = await reader.nextEvent(1000);
    assert.ok(Date.now() - started < 1000);
    assert.equal(change.event, 'change');
    assert.equal(change.id, String(revisionOf(put)));
    assert.deepEqual(payload(change), { revision: revisionOf(put), changes: [{ kind: 'tool', id: 'watched', op: 'put' }] });
    assert.ok(!change.data!.includes(secret));

    const removed = await gw.admin('DELETE', '/admin/tds/watched');
    assert.equal(removed.status, 200);
    const deletion = await reader.nextEvent(1000);
    assert.deepEqual(
      [deletion.event, deletion.id, payload(deletion)],
      ['change', String(removed.body.meta.revision), { revision: removed.body.meta.revision, changes: [{ kind: 'tool', id: 'watched', op: 'delete' }] }],
    );

    const batch = await gw.admin('POST', '/admin/batch', {
      operations: [
        { op: 'put', kind: 'tds', id: 'b-one', value: echoTool('b-one', UPSTREAM) },
        { op: 'put', kind: 'tds', id: 'b-two', value: echoTool('b-two', UPSTREAM) },
        { op: 'put', kind: 'ids', id: 'b-inst', value: { name: 'batch', tool_ids: ['b-one', 'b-two'] } },
        { op: 'delete', kind: 'tds', id: 'first' },
      ],
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    const batched = await reader.nextEvent(1000);
    assert.equal(batched.id, String(batch.body.data.revision));
    const { revision, changes } = payload(batched);
    assert.equal(revision, batch.body.data.revision);
    assert.deepEqual(
      [...changes].sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)),
      [
        { kind: 'instance', id: 'b-inst', op: 'put' },
        { kind: 'tool', id: 'b-one', op: 'put' },
        { kind: 'tool', id: 'b-two', op: 'put' },
        { kind: 'tool', id: 'first', op: 'delete' },
      ],
    );
    await assert.rejects(reader.nextEvent(300), /no event-stream message in time/, 'the batch was one message');
    reader.close();
  });

  test('Last-Event-ID (or ?since=) replays the revisions missed while away, in order, before live changes', async () => {
    const first = await stream();
    const seen = Number((await first.nextEvent()).id);
    first.close();
    const one = await gw.admin('PUT', '/admin/tds/missed-one', echoTool('missed-one', UPSTREAM));
    const two = await gw.admin('PUT', '/admin/tds/missed-two', echoTool('missed-two', UPSTREAM));

    for (const [query, headers] of [
      ['', { ...AUTH, 'last-event-id': String(seen) }],
      [`?since=${seen}`, AUTH],
      // EventSource reconnects to the URL it was opened with: its header is the newer position.
      [`?since=0`, { ...AUTH, 'last-event-id': String(seen) }],
    ] as const) {
      const resumed = await stream(query, headers);
      const ready = await resumed.nextEvent();
      assert.deepEqual([ready.event, payload(ready)], ['ready', { revision: revisionOf(two) }]);
      const replayed = [await resumed.nextEvent(), await resumed.nextEvent()];
      assert.deepEqual(
        replayed.map((message) => [message.event, Number(message.id), payload(message).changes[0].id]),
        [
          ['change', revisionOf(one), 'missed-one'],
          ['change', revisionOf(two), 'missed-two'],
        ],
      );
      resumed.close();
    }

    const upToDate = await stream('', { ...AUTH, 'last-event-id': String(revisionOf(two)) });
    await upToDate.nextEvent();
    const live = await gw.admin('PUT', '/admin/tds/live-one', echoTool('live-one', UPSTREAM));
    assert.equal((await upToDate.nextEvent()).id, String(revisionOf(live)), 'nothing replayed, the next write follows');
    upToDate.close();
  });

  test('a revision the gateway cannot account for is answered with reset: from the future, or from before this replica started', async () => {
    const ahead = await stream('', { ...AUTH, 'last-event-id': String(gw.definitions.revision + 1000) });
    assert.equal((await ahead.nextEvent()).event, 'ready');
    const reset = await ahead.nextEvent();
    assert.deepEqual([reset.event, reset.id, payload(reset)], ['reset', String(gw.definitions.revision), { revision: gw.definitions.revision }]);
    ahead.close();

    // A restarted replica knows the changes after its start only.
    const before = gw.definitions.revision;
    const dataDir = gw.dataDir;
    await gw.stop({ keepData: true });
    gw = await startTestGateway({}, { dataDir });
    await gw.admin('PUT', '/admin/tds/after-restart', echoTool('after-restart', UPSTREAM));
    const old = await stream(`?since=${before - 1}`);
    await old.nextEvent();
    assert.equal((await old.nextEvent()).event, 'reset');
    old.close();
    const recent = await stream(`?since=${before}`);
    await recent.nextEvent();
    assert.deepEqual(payload(await recent.nextEvent()).changes, [{ kind: 'tool', id: 'after-restart', op: 'put' }]);
    recent.close();
  });

  test('a bad Last-Event-ID or since is a 400 that says what to send', async () => {
    for (const [query, headers] of [
      ['', { ...AUTH, 'last-event-id': 'abc' }],
      ['', { ...AUTH, 'last-event-id': '-1' }],
      ['?since=-5', AUTH],
      ['?since=1.5', AUTH],
      ['?since=x&since=y', AUTH],
    ] as const) {
      const refused = await stream(query, headers);
      assert.equal(refused.status, 400, `${query} ${JSON.stringify(headers)}`);
      assert.equal(refused.body.error_code, 'INVALID_PAYLOAD');
      assert.match(refused.body.error, /must be a revision, a non-negative integer/);
    }
  });

  test('without an admin key: 401, as on every admin route', async () => {
    const refused = await stream('', {});
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error_code, 'UNAUTHORIZED');
    assert.equal(gw.adminEvents.streamCount(), 0);
  });

  test('a HEAD is answered with the headers and ends: it holds no stream open', async () => {
    const response = await fetch(`${gw.url}/admin/events`, { method: 'HEAD', headers: AUTH });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    await until('no stream left', () => gw.adminEvents.streamCount() === 0);
  });

  test('over the cap per principal: 429; streams of clients that went away are released, listeners and all', async () => {
    await until('earlier streams are released', () => gw.adminEvents.streamCount() === 0);
    const readers: EventStreamReader[] = [];
    for (let n = 0; n < DEFAULT_MAX_STREAMS_PER_PRINCIPAL; n++) {
      const reader = await stream();
      assert.equal(reader.status, 200);
      await reader.nextEvent();
      readers.push(reader);
    }
    const refused = await stream();
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error_code, 'TOO_MANY_REQUESTS');
    assert.match(refused.body.error, /at most 10 event streams per principal/);

    for (const reader of readers) reader.close();
    await until('every stream is released', () => gw.adminEvents.streamCount() === 0);
    // A write after they left reaches nobody and breaks nothing; the slots are free again.
    assert.equal((await gw.admin('PUT', '/admin/tds/after-leave', echoTool('after-leave', UPSTREAM))).status, 200);
    const again = await stream();
    assert.equal(again.status, 200);
    assert.equal((await again.nextEvent()).event, 'ready');
    assert.equal(gw.adminEvents.streamCount(), 1);
    again.close();
  });
});

test('a graceful stop ends open streams at once instead of waiting out the grace period', async () => {
  const gw = await startTestGateway({ server: { shutdownGraceMs: 10_000 } });
  const reader = await openEventStream(`${gw.url}/admin/events`, AUTH);
  await reader.nextEvent();
  const started = Date.now();
  await gw.stop();
  const tookMs = Date.now() - started;
  assert.ok(tookMs < 2000, `stop took ${tookMs} ms`);
  assert.equal(await reader.ended(500), true, 'the stream ended cleanly');
});

describe('the events handler alone, with small limits', () => {
  let gw: TestGateway;
  let events: AdminEvents;
  let server: Server;
  let url: string;
  const keys = { alice: 'alice:alice-key-123', bob: 'bob:bob-key-1234' };
  const as = (who: keyof typeof keys) => ({ authorization: `Bearer ${keys[who].split(':')[1]}` });

  before(async () => {
    gw = await startTestGateway();
    events = createAdminEvents({
      definitions: gw.definitions,
      logger: silentLogger,
      maxStreams: 2,
      maxStreamsPerPrincipal: 1,
      historySize: 2,
      pingIntervalMs: 50,
    });
    const app = express();
    app.use(requestContext(silentLogger, createClientAddressResolver([])));
    const providers = [createApiKeyAuthProvider({ adminKeys: Object.values(keys) })];
    app.get('/admin/events', requireAdmin(providers, createFailureLimiter({ maxFailures: 0, windowMs: 60_000 })), events.handler);
    const onError: ErrorRequestHandler = (error, _req, res, _next) => sendError(res, toGatewayError(error, silentLogger));
    app.use(onError);
    server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/events`;
  });
  after(async () => {
    await events?.close();
    server?.closeAllConnections();
    server?.close();
    await gw?.stop();
  });

  test('the cap in all holds across principals; a ping comment keeps an idle stream alive', async () => {
    const alice = await openEventStream(url, as('alice'));
    await alice.nextEvent();
    assert.deepEqual(await alice.next(1000), { comment: 'ping' });
    assert.equal((await openEventStream(url, as('alice'))).status, 429, 'alice has her one stream');
    const bob = await openEventStream(url, as('bob'));
    assert.equal(bob.status, 200);
    const third = await openEventStream(url, { authorization: `Bearer ${TEST_KEY}` });
    assert.equal(third.status, 401, 'not a key of this handler');
    alice.close();
    await until('alice is released', () => events.streamCount() === 1);
    const aliceAgain = await openEventStream(url, as('alice'));
    assert.equal(aliceAgain.status, 200);
    const overall = await openEventStream(`${url}`, as('bob'));
    assert.equal(overall.status, 429);
    bob.close();
    aliceAgain.close();
    await until('all released', () => events.streamCount() === 0);
  });

  test('a client further behind than the kept history gets reset; within it, the replay', async () => {
    const from = gw.definitions.revision;
    const writes: number[] = [];
    for (const id of ['h-one', 'h-two', 'h-three']) writes.push(revisionOf(await gw.admin('PUT', `/admin/tds/${id}`, echoTool(id, UPSTREAM))));
    const behind = await openEventStream(`${url}?since=${from}`, as('alice'));
    await behind.nextEvent();
    assert.equal((await behind.nextEvent()).event, 'reset', 'three revisions missed, two kept');
    behind.close();
    await until('released', () => events.streamCount() === 0);
    const within = await openEventStream(`${url}?since=${writes[0]}`, as('alice'));
    await within.nextEvent();
    assert.deepEqual([Number((await within.nextEvent()).id), Number((await within.nextEvent()).id)], writes.slice(1));
    within.close();
  });
});

test("a stream opened before the replica loaded its definitions gets its ready once they are loaded: a resuming client is not reset", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-admin-events-start-'));
  const datasource = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'store.sqlite'), pollIntervalMs: 50, logger: silentLogger });
  await datasource.open();
  const { revision: written } = await datasource.put('tds', 'before-start', echoTool('before-start', UPSTREAM));
  // The replica as it starts: its live definitions made, their first snapshot not applied yet.
  const definitions = createLiveDefinitions({ datasource, compiler: createSchemaCompiler(), logger: silentLogger });
  const events = createAdminEvents({ definitions, logger: silentLogger });
  const server = createServer(express().get('/admin/events', events.handler)).listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin/events`;
    const resuming = await openEventStream(url, { 'last-event-id': String(written) });
    assert.equal(resuming.status, 200);
    await assert.rejects(resuming.next(200), 'nothing before the definitions are loaded');
    await definitions.start();
    assert.deepEqual(await resuming.nextEvent(), { id: String(written), event: 'ready', data: JSON.stringify({ revision: written }) });
    const { revision: later } = await datasource.put('tds', 'after-start', echoTool('after-start', UPSTREAM));
    const change = await resuming.nextEvent();
    assert.deepEqual([change.event, change.id], ['change', String(later)], 'no reset in between');
    resuming.close();
  } finally {
    await events.close();
    server.closeAllConnections();
    server.close();
    await definitions.close();
    await datasource.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
