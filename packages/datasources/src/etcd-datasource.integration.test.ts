/**
 * The etcd datasource against a real etcd (Debian's etcd-server, started here): the store contract,
 * optimistic concurrency, the change feed between replicas, and its faults (etcd killed, frozen,
 * wiped, compacted, unreachable, slow) at datasource level. Never skipped: without etcd it fails.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGatewayError, requireBatch, silentLogger, type DataSource, type FeedEvent, type Logger } from '@dynmcp/plugin';
import { startEtcdServer, type EtcdServer } from '@dynmcp/testing';
import { makeTestCertificates, startTcpProxy, type TcpProxy } from '@dynmcp/testing';
import { createEtcdDataSource, type EtcdDataSourceOptions } from './etcd-datasource.js';
import { HISTORY_SEGMENT } from './etcd-keys.js';
import { batchContractTests } from './test-support/batch-contract.js';
import { historyContractTests } from './test-support/history-contract.js';

const KEEPALIVE_MS = 1000;

let etcd: EtcdServer;
const opened: DataSource[] = [];
const proxies: TcpProxy[] = [];
let prefixes = 0;

before(async () => {
  etcd = await startEtcdServer();
});

after(async () => {
  await Promise.all(opened.map((ds) => ds.close()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await etcd?.close();
});

/** A fresh key prefix per test, so tests sharing the etcd do not see each other. */
function freshPrefix(): string {
  prefixes += 1;
  return `/dynmcp-test-${process.pid}-${prefixes}`;
}

function etcdSource(prefix: string, extra: Partial<EtcdDataSourceOptions> = {}): DataSource {
  const ds = createEtcdDataSource({
    endpoints: [etcd.endpoint],
    prefix,
    logger: silentLogger,
    keepaliveMs: KEEPALIVE_MS,
    callTimeoutMs: 2000,
    maxBackoffMs: 1000,
    ...extra,
  });
  opened.push(ds);
  return ds;
}

/** A datasource that reaches etcd through a proxy the test can cut. */
async function partitionable(prefix: string): Promise<{ ds: DataSource; proxy: TcpProxy }> {
  const proxy = await startTcpProxy(Number(new URL(etcd.endpoint).port));
  proxies.push(proxy);
  return { ds: etcdSource(prefix, { endpoints: [`http://127.0.0.1:${proxy.port}`] }), proxy };
}

/** A feed consumer that keeps the model the live definitions would: key → value and revision. */
function follow(ds: DataSource) {
  const events: FeedEvent[] = [];
  const model = new Map<string, { value: unknown; revision: number }>();
  const subscription = ds.watch({
    onEvent(event) {
      events.push(event);
      if (event.type === 'snapshot') {
        model.clear();
        for (const r of event.records) model.set(`${r.kind}/${r.id}`, { value: r.value, revision: r.revision });
      } else {
        for (const c of event.changes) {
          if (c.type === 'put') model.set(`${c.kind}/${c.id}`, { value: c.value, revision: c.revision });
          else model.delete(`${c.kind}/${c.id}`);
        }
      }
    },
  });
  return {
    events,
    model,
    snapshots: () => events.filter((event) => event.type === 'snapshot').length,
    close: () => subscription.close(),
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(25);
  }
}

/** What etcd holds under `prefix`, as `kind/id` → value text and mod revision. */
async function etcdState(prefix: string): Promise<Map<string, { text: string; revision: number }>> {
  const state = new Map<string, { text: string; revision: number }>();
  for (const kv of await etcd.get(`${prefix}/`)) {
    const key = kv.key.slice(prefix.length + 1);
    // History entries share the prefix but are not records (etcd-history.ts).
    if (!key.startsWith(`${HISTORY_SEGMENT}/`)) state.set(key, { text: kv.value, revision: kv.modRevision });
  }
  return state;
}

/** The model equals etcd: same keys, same revisions, same values (raw text for invalid JSON). */
async function modelEqualsEtcd(model: Map<string, { value: unknown; revision: number }>, prefix: string): Promise<boolean> {
  const state = await etcdState(prefix);
  if (state.size !== model.size) return false;
  for (const [key, { text, revision }] of state) {
    const held = model.get(key);
    if (held === undefined || held.revision !== revision) return false;
    const expected = (() => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    })();
    if (JSON.stringify(held.value) !== JSON.stringify(expected)) return false;
  }
  return true;
}

function rejectsWith(code: string, check?: (error: Error & { data?: Record<string, unknown> }) => void) {
  return (error: unknown) => {
    assert.ok(isGatewayError(error), `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code);
    check?.(error);
    return true;
  };
}

test('put, get, list and delete round-trip JSON under <prefix>/<kind>/<id>; revisions are mod revisions', async () => {
  const prefix = freshPrefix();
  const ds = etcdSource(prefix);
  assert.equal(ds.name, 'etcd');
  await ds.open();
  await ds.open();
  const tool = { id: 'a', name: 'a_tool', nested: { list: [1, 'two', null] } };
  const put = await ds.put('tds', 'a', tool);
  assert.deepEqual(put.value, tool);
  const stored = await etcdState(prefix);
  assert.deepEqual(JSON.parse(stored.get('tds/a')!.text), tool, 'the key layout is <prefix>/tds/<id>, the value JSON');
  assert.equal(put.revision, stored.get('tds/a')!.revision, 'the revision is the key mod_revision');
  assert.equal(put.revision, await etcd.revision(), 'a put resolves with the revision of its write');

  const second = await ds.put('ids', 'i/with/slashes', { id: 'i/with/slashes', tool_ids: ['a'] });
  assert.ok(second.revision > put.revision);
  await ds.put('tds', 'b', { id: 'b' });
  assert.deepEqual(await ds.get('tds', 'a'), { kind: 'tds', id: 'a', value: tool, revision: put.revision });
  assert.deepEqual((await ds.get('ids', 'i/with/slashes'))?.value, { id: 'i/with/slashes', tool_ids: ['a'] });
  assert.equal(await ds.get('tds', 'missing'), undefined);
  assert.deepEqual((await ds.list('tds')).map((r) => r.id), ['a', 'b']);
  assert.deepEqual((await ds.list('ids')).map((r) => r.id), ['i/with/slashes']);

  const deleted = await ds.delete('tds', 'a');
  assert.equal(deleted, await etcd.revision(), 'a delete resolves with its revision');
  assert.equal(await ds.delete('tds', 'a'), undefined, 'deleting an absent record writes nothing');
  assert.equal(deleted, await etcd.revision(), 'and takes no revision');
  assert.equal(await ds.get('tds', 'a'), undefined);
  await assert.rejects(ds.put('a/b', 'x', {}), rejectsWith('INVALID_PAYLOAD'));
  await assert.rejects(ds.put('tds', '', {}), rejectsWith('INVALID_PAYLOAD'));
});

test('ifRevision: a match writes, a mismatch is PRECONDITION_FAILED with the current revision, 0 means absent', async () => {
  const ds = etcdSource(freshPrefix());
  await ds.open();
  const created = await ds.put('tds', 't', { v: 1 }, { ifRevision: 0 });
  await assert.rejects(
    ds.put('tds', 't', { v: 'again' }, { ifRevision: 0 }),
    rejectsWith('PRECONDITION_FAILED', (error) => {
      assert.deepEqual(error.data, { currentRevision: created.revision, expectedRevision: 0 });
      assert.match(error.message, /already exists/);
    }),
  );
  const updated = await ds.put('tds', 't', { v: 2 }, { ifRevision: created.revision });
  assert.ok(updated.revision > created.revision);
  await assert.rejects(
    ds.put('tds', 't', { v: 3 }, { ifRevision: created.revision }),
    rejectsWith('PRECONDITION_FAILED', (error) =>
      assert.deepEqual(error.data, { currentRevision: updated.revision, expectedRevision: created.revision }),
    ),
  );
  assert.deepEqual((await ds.get('tds', 't'))?.value, { v: 2 }, 'a failed precondition changes nothing');
  await assert.rejects(ds.put('tds', 'nope', {}, { ifRevision: 5 }), rejectsWith('PRECONDITION_FAILED', (error) =>
    assert.equal(error.data?.currentRevision, 0),
  ));
  await assert.rejects(ds.delete('tds', 't', { ifRevision: created.revision }), rejectsWith('PRECONDITION_FAILED'));
  assert.ok((await ds.delete('tds', 't', { ifRevision: updated.revision }))! > updated.revision);
  assert.equal(await ds.delete('tds', 't', { ifRevision: 0 }), undefined, 'absent and expected absent: nothing to delete');
  await assert.rejects(ds.put('tds', 't', {}, { ifRevision: -1 }), rejectsWith('INVALID_PAYLOAD'));

  // Two writers with the same expectation: exactly one wins.
  const base = await ds.put('tds', 'race', { v: 0 });
  const results = await Promise.allSettled([
    ds.put('tds', 'race', { v: 'A' }, { ifRevision: base.revision }),
    ds.put('tds', 'race', { v: 'B' }, { ifRevision: base.revision }),
  ]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal(results.filter((r) => r.status === 'rejected' && isGatewayError(r.reason) && r.reason.code === 'PRECONDITION_FAILED').length, 1);
});

test('two datasources see each other\u2019s writes as changes, deletes included, in revision order', async () => {
  const prefix = freshPrefix();
  const a = etcdSource(prefix);
  const b = etcdSource(prefix);
  await Promise.all([a.open(), b.open()]);
  await a.put('tds', 'before', { v: 0 });
  const feedA = follow(a);
  const feedB = follow(b);
  await until('both feeds loaded', () => feedA.snapshots() === 1 && feedB.snapshots() === 1);
  assert.deepEqual(feedB.events[0], {
    type: 'snapshot',
    revision: await etcd.revision(),
    records: [{ kind: 'tds', id: 'before', value: { v: 0 }, revision: (await a.get('tds', 'before'))!.revision }],
  });
  const put = await a.put('tds', 'x', { v: 1 });
  await b.put('ids', 'i', { tool_ids: ['x'] });
  const removed = await a.delete('tds', 'before');
  await until('both feeds converged', async () => (await modelEqualsEtcd(feedA.model, prefix)) && (await modelEqualsEtcd(feedB.model, prefix)));
  const changesOfB = feedB.events.filter((event) => event.type === 'changes').flatMap((event) => event.changes);
  assert.deepEqual(changesOfB[0], { type: 'put', kind: 'tds', id: 'x', value: { v: 1 }, revision: put.revision });
  assert.deepEqual(changesOfB.at(-1), { type: 'delete', kind: 'tds', id: 'before', revision: removed });
  const revisions = changesOfB.map((change) => change.revision);
  assert.deepEqual(revisions, [...revisions].sort((x, y) => x - y));
  assert.equal(feedA.snapshots(), 1, 'no resync without a fault');
  await Promise.all([feedA.close(), feedB.close()]);
});

test('a value that is not JSON is delivered as text; a later valid write is delivered again', async () => {
  const prefix = freshPrefix();
  const warnings: Array<Record<string, unknown>> = [];
  const logger: Logger = { ...silentLogger, warn: (_message, meta) => warnings.push(meta ?? {}), child: () => logger };
  const ds = etcdSource(prefix, { logger });
  await ds.open();
  await ds.put('tds', 'c', { good: 1 });
  const feed = follow(ds);
  await until('loaded', () => feed.snapshots() === 1);
  const corruptRevision = await etcd.put(`${prefix}/tds/c`, '{not json');
  await until('the corrupt value arrived', () => feed.model.get('tds/c')?.revision === corruptRevision);
  assert.equal(feed.model.get('tds/c')?.value, '{not json');
  assert.ok(warnings.some((meta) => meta.id === 'c' && meta.kind === 'tds'), 'reported in the log');
  assert.equal((await ds.get('tds', 'c'))?.value, '{not json');
  await ds.put('tds', 'c', { good: 2 });
  await until('the valid value arrived', () => JSON.stringify(feed.model.get('tds/c')?.value) === '{"good":2}');
  // Keys outside <prefix>/<kind>/<id> are not records.
  await etcd.put(`${prefix}/stray`, '{}');
  await ds.put('tds', 'after-stray', {});
  await until('converged', () => feed.model.has('tds/after-stray'));
  assert.ok(![...feed.model.keys()].some((key) => key.includes('stray') && key !== 'tds/after-stray'));
  await feed.close();
});

test('a partition while writes and deletes land directly: one resync, nothing lost, nothing resurrected', async () => {
  const prefix = freshPrefix();
  const { ds, proxy } = await partitionable(prefix);
  const direct = etcdSource(prefix);
  await Promise.all([ds.open(), direct.open()]);
  for (let i = 0; i < 20; i++) await direct.put('tds', `t${i}`, { i });
  const feed = follow(ds);
  await until('loaded', () => feed.snapshots() === 1 && feed.model.size === 20);
  proxy.block();
  await until('the partition is noticed', () => !ds.health().connected, 5000);
  const health = ds.health();
  assert.equal(typeof health.reason, 'string');
  assert.equal(typeof health.lastSyncAt, 'number', 'lastSyncAt is kept while down');
  // 200 writes and 10 deletes the disconnected client cannot see as they happen.
  for (let i = 0; i < 10; i++) await direct.delete('tds', `t${i}`);
  await Promise.all(Array.from({ length: 200 }, (_, i) => direct.put('tds', `n${i}`, { i })));
  const started = Date.now();
  await assert.rejects(ds.put('tds', 'while-down', {}), rejectsWith('STORE_UNAVAILABLE', (error) => {
    assert.doesNotMatch(error.message, /127\.0\.0\.1|http:/, 'no endpoint in the message');
  }));
  assert.ok(Date.now() - started < 3000, 'a write while down fails within the call deadline');
  proxy.unblock();
  await until('reconnected and equal to etcd', async () => ds.health().connected && (await modelEqualsEtcd(feed.model, prefix)), 10_000);
  assert.equal(feed.model.size, 210);
  assert.equal(feed.snapshots(), 2, 'recovered by a full reload');
  await direct.put('tds', 'later', {});
  await until('later writes still arrive', () => feed.model.has('tds/later'));
  await feed.close();
});

test('compaction during a partition: resync, deletes applied, later writes still seen', async () => {
  const prefix = freshPrefix();
  const { ds, proxy } = await partitionable(prefix);
  const direct = etcdSource(prefix);
  await Promise.all([ds.open(), direct.open()]);
  for (let i = 0; i < 5; i++) await direct.put('tds', `k${i}`, { i });
  const feed = follow(ds);
  await until('loaded', () => feed.model.size === 5);
  proxy.block();
  await until('the partition is noticed', () => !ds.health().connected, 5000);
  await direct.delete('tds', 'k0');
  await direct.delete('tds', 'k1');
  await direct.put('tds', 'k2', { i: 'changed' });
  await direct.put('tds', 'k5', { i: 5 });
  await etcd.compact(await etcd.revision());
  proxy.unblock();
  await until('equal to etcd after the compaction', async () => ds.health().connected && (await modelEqualsEtcd(feed.model, prefix)), 10_000);
  assert.ok(!feed.model.has('tds/k0') && !feed.model.has('tds/k1'), 'deletes applied');
  await direct.put('tds', 'k6', { i: 6 });
  await direct.delete('tds', 'k5');
  await until('later writes seen', () => feed.model.has('tds/k6') && !feed.model.has('tds/k5'));
  await feed.close();
});

test('etcd killed, written while the client is cut off, restarted: every change arrives by resync', async () => {
  const prefix = freshPrefix();
  const { ds, proxy } = await partitionable(prefix);
  const direct = etcdSource(prefix);
  await Promise.all([ds.open(), direct.open()]);
  for (let i = 0; i < 10; i++) await direct.put('tds', `r${i}`, { i });
  const feed = follow(ds);
  await until('loaded', () => feed.model.size === 10);
  await etcd.kill();
  await until('the kill is noticed', () => !ds.health().connected, 5000);
  const down = Date.now();
  await assert.rejects(ds.list('tds'), rejectsWith('STORE_UNAVAILABLE'));
  await assert.rejects(ds.get('tds', 'r1'), rejectsWith('STORE_UNAVAILABLE'));
  await assert.rejects(ds.delete('tds', 'r1'), rejectsWith('STORE_UNAVAILABLE'));
  assert.ok(Date.now() - down < 3000, 'calls fail fast while etcd is down');
  // Keep this client cut off across the restart, so the writes land while it is disconnected.
  proxy.block();
  await etcd.start();
  await until('the direct client is back', async () => (await direct.get('tds', 'r0').then(() => true, () => false)), 10_000);
  await direct.delete('tds', 'r0');
  await direct.delete('tds', 'r1');
  await Promise.all(Array.from({ length: 100 }, (_, i) => direct.put('tds', `w${i}`, { i })));
  await direct.put('tds', 'r2', { i: 'changed while cut off' });
  assert.equal(ds.health().connected, false);
  proxy.unblock();
  await until('equal to etcd', async () => ds.health().connected && (await modelEqualsEtcd(feed.model, prefix)), 15_000);
  assert.ok(!feed.model.has('tds/r0') && !feed.model.has('tds/r1'), 'nothing resurrected');
  assert.equal(feed.model.size, 108);
  await feed.close();
});

test('a frozen etcd is noticed through keepalive; after thaw the feed is current again', async (t) => {
  const prefix = freshPrefix();
  const ds = etcdSource(prefix);
  await ds.open();
  const feed = follow(ds);
  await until('loaded', () => feed.snapshots() === 1 && ds.health().connected);
  etcd.freeze();
  try {
    const noticedMs = await until('the freeze is noticed', () => !ds.health().connected, KEEPALIVE_MS * 3 + 3000);
    // Keepalive interval plus its 2 s timeout, with some slack for a busy machine.
    assert.ok(noticedMs <= KEEPALIVE_MS + 2000 + 2500, `noticed after ${noticedMs} ms`);
    t.diagnostic(`freeze noticed after ${noticedMs} ms (keepalive ${KEEPALIVE_MS} ms)`);
    const started = Date.now();
    await assert.rejects(ds.put('tds', 'frozen', {}), rejectsWith('STORE_UNAVAILABLE'));
    assert.ok(Date.now() - started < 2500, 'a write to a frozen etcd fails at the call deadline, not minutes later');
  } finally {
    etcd.thaw();
  }
  await until('connected again', () => ds.health().connected, 10_000);
  const later = await ds.put('tds', 'thawed', { ok: true });
  await until('current again', () => feed.model.get('tds/thawed')?.revision === later.revision);
  await feed.close();
});

test('open on a down etcd rejects fast with STORE_UNAVAILABLE and can be retried', async () => {
  const port = Number(new URL(etcd.endpoint).port);
  const proxy = await startTcpProxy(port);
  proxies.push(proxy);
  proxy.block();
  const ds = etcdSource(freshPrefix(), { endpoints: [`http://127.0.0.1:${proxy.port}`] });
  const started = Date.now();
  await assert.rejects(ds.open(), rejectsWith('STORE_UNAVAILABLE', (error) => {
    assert.doesNotMatch(error.message, /127\.0\.0\.1|http:/);
  }));
  assert.ok(Date.now() - started < 3000);
  assert.equal(ds.health().connected, false);
  proxy.unblock();
  await ds.open();
  assert.equal(ds.health().connected, true);
  await ds.put('tds', 'x', {});
  await ds.close();
  await assert.rejects(ds.get('tds', 'x'), rejectsWith('STORE_UNAVAILABLE'));
  assert.equal(ds.health().reason, 'closed');
});

// DataSource.batch on etcd: two datasources (two gateways) on a fresh prefix each time.
batchContractTests('etcd', async () => {
  const prefix = freshPrefix();
  const writer = etcdSource(prefix);
  const replica = etcdSource(prefix);
  await Promise.all([writer.open(), replica.open()]);
  return { writer, replica };
});

historyContractTests('etcd', async (options) => {
  const prefix = freshPrefix();
  const writer = etcdSource(prefix, options);
  const replica = etcdSource(prefix, options);
  await Promise.all([writer.open(), replica.open()]);
  return { writer, replica };
});

test('etcd: each write is 2 operations (record and history entry); a batch over etcd\'s transaction limit is refused, naming it; nothing is written', async () => {
  const ds = etcdSource(freshPrefix());
  await ds.open();
  const operations = Array.from({ length: 65 }, (_, index) => ({ op: 'put' as const, kind: 'tds', id: `t${index}`, value: {} }));
  await assert.rejects(requireBatch(ds).batch(operations), (error: unknown) => {
    assert.ok(isGatewayError(error));
    assert.equal(error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(error.message, /batch of 65 writes.*each write is 2 operations.*--max-txn-ops \(default 128\) allows 64 writes/);
    return true;
  });
  assert.deepEqual(await ds.list('tds'), []);
  const fits = await requireBatch(ds).batch(operations.slice(0, 64));
  assert.equal((await ds.list('tds')).filter((record) => record.revision === fits.revision).length, 64);
});

// Last: it turns authentication on for the shared etcd.
test('username and password authenticate; a wrong password fails open without naming the user or the password', async () => {
  await etcd.etcdctl('user', 'add', 'root:root-secret-4711', '--interactive=false');
  await etcd.etcdctl('auth', 'enable');
  const prefix = freshPrefix();
  const wrong = etcdSource(prefix, { username: 'root', password: 'not-the-password' });
  await assert.rejects(wrong.open(), rejectsWith('STORE_UNAVAILABLE', (error) => {
    assert.match(error.message, /authentication failed/);
    assert.doesNotMatch(error.message, /root|not-the-password|127\.0\.0\.1/);
  }));
  const ds = etcdSource(prefix, { username: 'root', password: 'root-secret-4711' });
  await ds.open();
  const feed = follow(ds);
  await until('loaded', () => feed.snapshots() === 1);
  const put = await ds.put('tds', 'authed', { ok: true });
  await until('the change arrived', () => feed.model.get('tds/authed')?.revision === put.revision);
  await feed.close();
});

test('TLS with a client certificate: the CA, certificate and key files connect; without them open fails', async () => {
  const certs = await makeTestCertificates();
  const secure = await startEtcdServer({
    tls: {
      caFile: certs.caFile,
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      clientCertFile: certs.clientCertFile,
      clientKeyFile: certs.clientKeyFile,
    },
  });
  try {
    assert.match(secure.endpoint, /^https:/);
    const prefix = freshPrefix();
    const noCertificate = etcdSource(prefix, { endpoints: [secure.endpoint], tls: { caFile: certs.caFile } });
    await assert.rejects(noCertificate.open(), rejectsWith('STORE_UNAVAILABLE', () => undefined));
    const ds = etcdSource(prefix, {
      endpoints: [secure.endpoint],
      tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile },
    });
    await ds.open();
    const feed = follow(ds);
    await until('loaded', () => feed.snapshots() === 1);
    const put = await ds.put('tds', 'over-tls', { ok: true });
    await until('the change arrived', () => feed.model.get('tds/over-tls')?.revision === put.revision);
    assert.deepEqual((await ds.get('tds', 'over-tls'))?.value, { ok: true });
    await feed.close();
  } finally {
    await secure.close();
    rmSync(certs.dir, { recursive: true, force: true });
  }
});

