/**
 * Gateway replicas on one real MariaDB: random
 * concurrent admin traffic through two replicas converges on the database, deletes included; a
 * database outage is served from cache, not ready, admin 503, and heals without a restart; a
 * replica that missed pruned tombstones reloads everything; If-Match races have one winner;
 * list_changed reaches clients of the other replica. Never skipped without MariaDB.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';
import { startMariaDb, startTcpProxy, startUpstream, type MariaDbServer, type TcpProxy, type TestUpstream } from '@dynmcp/testing';
import { connectLegacy, connectModern, TEST_AUTH, watchToolChanges } from '../test-support/mcp-clients.js';
import { startTestGateway, TEST_KEY, type AdminResponse, type TestGateway } from '../test-support/test-gateway.js';

let db: MariaDbServer;
let upstream: TestUpstream;
const gateways = new Set<TestGateway>();
const processes: GatewayProcess[] = [];
const proxies: TcpProxy[] = [];

before(async () => {
  [db, upstream] = await Promise.all([startMariaDb(), startUpstream()]);
});

after(async () => {
  await Promise.all([...gateways].map((gateway) => gateway.stop()));
  await Promise.all(processes.map((gateway) => gateway.stop(2000)));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  await upstream?.close();
  await db?.cleanup();
});

/** A replica on `url`: in-process, its own HTTP port, polling every 100 ms. */
async function replica(url: string, datasource: Record<string, unknown> = {}): Promise<TestGateway> {
  const gateway = await startTestGateway({
    datasource: { type: 'mysql', mysql: { url }, pollIntervalMs: 100, startupWaitMs: 10_000, ...datasource },
  });
  gateways.add(gateway);
  return gateway;
}

async function stopReplica(gateway: TestGateway): Promise<void> {
  gateways.delete(gateway);
  await gateway.stop();
}

/** What the tests need of a replica, in-process or not. */
interface Replica {
  url: string;
  admin(method: string, path: string, body?: unknown): Promise<AdminResponse>;
}

/** A replica as its own process, from the built bin, configured by environment variables only. */
async function processReplica(env: Record<string, string>): Promise<Replica & { process: GatewayProcess }> {
  const child = startGatewayProcess({
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: TEST_KEY,
    DYNMCP_DATASOURCE: 'mysql',
    DYNMCP_POLL_INTERVAL_MS: '100',
    DYNMCP_SHUTDOWN_GRACE_MS: '500',
    ...env,
  });
  processes.push(child);
  const url = await child.url;
  return {
    url,
    process: child,
    async admin(method, path, body) {
      const response = await fetch(`${url}${path}`, {
        method,
        headers: { ...TEST_AUTH, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text === '' ? text : JSON.parse(text) };
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(25);
  }
}

const ready = async (gateway: { url: string }) => (await fetch(`${gateway.url}/readyz`)).status === 200;

function tool(id: string, description = `tool ${id}`) {
  return {
    name: id,
    description,
    input_schema: { type: 'object', properties: { path: { type: 'object', properties: { item: { type: 'string' } } } } },
    tds_ext_info: { domain: upstream.url, method: 'GET', path: '/items/{item}', required_params: {}, ext_info: {} },
  };
}

async function putOk(gateway: TestGateway, path: string, body: unknown) {
  const response = await gateway.admin('PUT', path, body);
  assert.equal(response.status, 200, `PUT ${path}: ${JSON.stringify(response.body)}`);
  return response;
}

/** Tools served by `gateway` for `instance`, sorted names, through a fresh 2026-era client. */
async function served(gateway: { url: string }, instance: string): Promise<string[]> {
  const { client } = await connectModern(`${gateway.url}/mcp/${instance}`);
  try {
    return (await client.listTools()).tools.map((t) => t.name).sort();
  } finally {
    await client.close();
  }
}

/** Like {@link served}, but `[]` while the replica does not serve the instance (yet). */
const servedOrNone = (gateway: { url: string }, instance: string) => served(gateway, instance).catch(() => [] as string[]);

/** What the database holds, read by the operator's client: live records and the counter. */
async function database(name: string) {
  const rows = await db.query(`SELECT kind, id, revision, value FROM \`${name}\`.dynmcp_records WHERE deleted = 0 ORDER BY kind, id`);
  const records = rows.map(([kind, id, revision, value]) => ({ kind: kind!, id: id!, revision: Number(revision), value: JSON.parse(value!) as any }));
  const [[head, minRetained]] = (await db.query(`SELECT revision, min_retained FROM \`${name}\`.dynmcp_revision`)) as [[string, string]];
  const [[tombstones]] = (await db.query(`SELECT COUNT(*) FROM \`${name}\`.dynmcp_records WHERE deleted = 1`)) as [[string]];
  return {
    head: Number(head),
    minRetained: Number(minRetained),
    tombstones: Number(tombstones),
    tools: records.filter((record) => record.kind === 'tds'),
    instances: records.filter((record) => record.kind === 'ids'),
  };
}

async function freshDatabase(): Promise<{ url: string; name: string }> {
  const url = await db.createDatabase();
  return { url, name: new URL(url).pathname.slice(1) };
}

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('two replicas, 200 random concurrent admin operations through both: both registries equal the database', async () => {
  const { url, name } = await freshDatabase();
  const [a, b] = await Promise.all([replica(url), replica(url)]);
  const seed = Number(process.env.DYNMCP_TEST_SEED ?? Date.now() % 100_000);
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const toolIds = Array.from({ length: 12 }, (_, i) => `t${i}`);
  const instanceIds = Array.from({ length: 6 }, (_, i) => `i${i}`);
  const operations = Array.from({ length: 200 }, (_, n) => {
    const via = next() < 0.5 ? a : b;
    const roll = next();
    if (roll < 0.4) {
      const id = pick(toolIds);
      return () => via.admin('PUT', `/admin/tds/${id}`, tool(id, `op ${n}`));
    }
    if (roll < 0.55) {
      const id = pick(toolIds);
      return () => via.admin('DELETE', `/admin/tds/${id}`);
    }
    if (roll < 0.85) {
      const id = pick(instanceIds);
      const members = toolIds.filter(() => next() < 0.3);
      return () => via.admin('PUT', `/admin/ids/${id}`, { name: `${id} op ${n}`, tool_ids: members });
    }
    const id = pick(instanceIds);
    return () => via.admin('DELETE', `/admin/ids/${id}`);
  });

  // Bounded concurrency: 10 operations in flight at any time.
  const statuses: number[] = [];
  let cursor = 0;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (cursor < operations.length) {
        const operation = operations[cursor++]!;
        const response = await operation();
        statuses.push(response.status);
        assert.ok([200, 404].includes(response.status), `seed ${seed}: status ${response.status} ${JSON.stringify(response.body)}`);
      }
    }),
  );
  assert.equal(statuses.length, 200);

  const stored = await database(name);
  assert.ok(stored.tombstones > 0, `seed ${seed}: some deletes happened`);
  await until('both registries applied the head', () => a.definitions.revision === stored.head && b.definitions.revision === stored.head);
  const storedTools = new Map(stored.tools.map((record) => [record.id, record]));
  const storedInstances = new Map(stored.instances.map((record) => [record.id, record]));
  for (const gateway of [a, b]) {
    // The admin API's lists equal the database, values included.
    const listedTools = (await gateway.admin('GET', '/admin/tds')).body.data as Array<{ id: string }>;
    const listedInstances = (await gateway.admin('GET', '/admin/ids')).body.data as Array<{ id: string }>;
    assert.deepEqual(listedTools, stored.tools.map((record) => record.value), `seed ${seed}`);
    assert.deepEqual(listedInstances, stored.instances.map((record) => record.value), `seed ${seed}`);
    // The live definitions (what MCP serves) holds exactly the database's records, at their revisions.
    for (const id of toolIds) assert.equal(gateway.definitions.tool(id)?.revision, storedTools.get(id)?.revision, `seed ${seed}: tool ${id}`);
    for (const id of instanceIds) {
      const view = gateway.definitions.instance(id);
      const record = storedInstances.get(id);
      assert.equal(view === undefined, record === undefined, `seed ${seed}: instance ${id}`);
      if (view && record) assert.deepEqual(view.definition.tool_ids, record.value.tool_ids);
    }
  }
  // And MCP tools/list on both replicas, for a few instances.
  for (const record of stored.instances.slice(0, 3)) {
    const expected = (record.value.tool_ids as string[]).filter((id) => storedTools.has(id)).sort();
    assert.deepEqual(await served(a, record.id), expected, `seed ${seed}: A ${record.id}`);
    assert.deepEqual(await served(b, record.id), expected, `seed ${seed}: B ${record.id}`);
  }
  await Promise.all([stopReplica(a), stopReplica(b)]);
});

test('two concurrent PUTs with the same If-Match, one through each replica: one 200, one 412', async () => {
  const { url, name } = await freshDatabase();
  const [a, b] = await Promise.all([replica(url), replica(url)]);
  const created = await putOk(a, '/admin/tds/race', tool('race'));
  const etag = created.headers.get('etag');
  assert.ok(etag);
  const results = await Promise.all([
    a.admin('PUT', '/admin/tds/race', tool('race', 'from A'), { 'if-match': etag }),
    b.admin('PUT', '/admin/tds/race', tool('race', 'from B'), { 'if-match': etag }),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 412]);
  assert.equal(results.find((r) => r.status === 412)!.body.error_code, 'PRECONDITION_FAILED');
  const winner = results.find((r) => r.status === 200)!;
  const revision = (await database(name)).tools[0]!.revision;
  assert.equal(winner.headers.get('etag'), `"${revision}"`);
  assert.equal(revision, Number(JSON.parse(etag)) + 1, 'the version went up by one');
  for (const gateway of [a, b]) assert.equal((await gateway.admin('GET', '/admin/tds/race')).headers.get('etag'), `"${revision}"`);
  await Promise.all([stopReplica(a), stopReplica(b)]);
});

test('list_changed reaches clients connected to the other replica', async () => {
  const { url } = await freshDatabase();
  const [a, b] = await Promise.all([replica(url), replica(url)]);
  await putOk(a, '/admin/tds/n1', tool('n1'));
  await putOk(a, '/admin/ids/notify', { name: 'notify', tool_ids: ['n1'] });
  await until('B serves the instance', async () => (await servedOrNone(b, 'notify')).length === 1);

  const watch = await watchToolChanges(`${b.url}/mcp/notify`);
  const { legacy, counts } = watch;
  try {
    await putOk(a, '/admin/tds/n2', tool('n2'));
    await putOk(a, '/admin/ids/notify', { name: 'notify', tool_ids: ['n1', 'n2'] });
    const tookMs = await until('both clients of B were notified', () => counts.legacy >= 1 && counts.modern >= 1, 3000);
    assert.ok(tookMs <= 2000, `notified after ${tookMs} ms`);
    assert.deepEqual((await legacy.client.listTools()).tools.map((t) => t.name).sort(), ['n1', 'n2']);
  } finally {
    await watch.close();
  }
  await Promise.all([stopReplica(a), stopReplica(b)]);
});

test('MariaDB down for seconds: MCP served from cache, not ready, admin 503 fast; ready again and converging after', async () => {
  const { url } = await freshDatabase();
  const [a, b] = await Promise.all([replica(url), replica(url)]);
  await putOk(a, '/admin/tds/cached', tool('cached'));
  await putOk(b, '/admin/ids/outage', { name: 'outage', tool_ids: ['cached'] });
  await until('both serve the instance', async () => (await servedOrNone(a, 'outage')).length === 1 && (await servedOrNone(b, 'outage')).length === 1);
  const legacy = await connectLegacy(`${b.url}/mcp/outage`);

  await db.kill();
  const downAt = Date.now();
  let late: TestGateway | undefined;
  try {
    for (const gateway of [a, b]) {
      await until('the outage is noticed', async () => !(await ready(gateway)), 5000);
      const readyz = await fetch(`${gateway.url}/readyz`);
      assert.equal(readyz.status, 503);
      assert.equal(((await readyz.json()) as { status: string }).status, 'not_ready');
      // Served from the live definitions: listing and calling need no store.
      assert.deepEqual(await served(gateway, 'outage'), ['cached']);
      const { client } = await connectModern(`${gateway.url}/mcp/outage`);
      try {
        const result = await client.callTool({ name: 'cached', arguments: { path: { item: 'x1' } } });
        assert.notEqual(result.isError, true, JSON.stringify(result));
      } finally {
        await client.close();
      }
      const started = Date.now();
      const put = await gateway.admin('PUT', '/admin/tds/during', tool('during'));
      const get = await gateway.admin('GET', '/admin/tds');
      assert.ok(Date.now() - started < 1000, `admin 503s took ${Date.now() - started} ms`);
      assert.equal(put.status, 503);
      assert.equal(put.body.error_code, 'STORE_UNAVAILABLE');
      assert.equal(get.status, 503);
    }
    assert.equal((await legacy.client.listTools()).tools.length, 1, 'an open 2025-era session keeps working');
    // A replica started meanwhile is alive but not ready, and answers admin calls 503.
    late = await replica(url, { startupWaitMs: 300 });
    assert.equal((await fetch(`${late.url}/healthz`)).status, 200);
    assert.equal(await ready(late), false);
    assert.equal((await late.admin('GET', '/admin/ids')).status, 503);
    await sleep(Math.max(0, 4000 - (Date.now() - downAt)));
  } finally {
    await db.start();
  }
  // The late replica retries its first open with a backoff (1 s doubling), so it may take longest.
  for (const gateway of [a, b, late!]) await until('ready again', () => ready(gateway), 20_000);
  assert.deepEqual(await served(late!, 'outage'), ['cached']);
  await putOk(a, '/admin/tds/healed', tool('healed'));
  await putOk(a, '/admin/ids/outage', { name: 'outage', tool_ids: ['cached', 'healed'] });
  await until('B serves the write made on A', async () => (await servedOrNone(b, 'outage')).length === 2, 3000);
  assert.deepEqual((await legacy.client.listTools()).tools.map((t) => t.name).sort(), ['cached', 'healed']);
  await until('the late replica too', async () => (await servedOrNone(late!, 'outage')).length === 2, 3000);
  await legacy.client.close();
  await Promise.all([stopReplica(a), stopReplica(b), stopReplica(late!)]);
});

test('tombstone retention passed: a restarted replica and a partitioned one both reload fully, deletes reflected', async () => {
  const { url, name } = await freshDatabase();
  const retention = { tombstoneRetentionMs: 1000 };
  const env = { DYNMCP_MYSQL_URL: url, DYNMCP_TOMBSTONE_RETENTION_MS: '1000' };
  const a = await replica(url, retention);
  // B is a process configured through the environment; C reaches the database through a proxy.
  let b = await processReplica(env);
  const proxy = await startTcpProxy(db.port);
  proxies.push(proxy);
  const c = await replica(url.replace(`:${db.port}/`, `:${proxy.port}/`), retention);
  for (const id of ['r1', 'r2', 'r3']) await putOk(a, `/admin/tds/${id}`, tool(id));
  await putOk(a, '/admin/ids/kept', { name: 'kept', tool_ids: ['r1', 'r2', 'r3'] });
  await putOk(a, '/admin/ids/gone', { name: 'gone', tool_ids: ['r1'] });
  for (const gateway of [b, c]) {
    await until('the replica serves both instances', async () => (await servedOrNone(gateway, 'kept')).length === 3 && (await servedOrNone(gateway, 'gone')).length === 1);
  }

  // B stops; C loses its database connection but keeps serving.
  assert.equal(await b.process.stop(5000), 0);
  proxy.block();
  await until('C not ready', async () => !(await ready(c)));
  assert.deepEqual(await served(c, 'kept'), ['r1', 'r2', 'r3']);

  const deleted = [(await a.admin('DELETE', '/admin/tds/r2')).status, (await a.admin('DELETE', '/admin/ids/gone')).status];
  assert.deepEqual(deleted, [200, 200]);
  const { head } = await database(name);
  // A prunes the tombstones once they are older than the retention, and raises min_retained.
  await until('tombstones pruned', async () => {
    const stored = await database(name);
    return stored.tombstones === 0 && stored.minRetained > head;
  }, 10_000);

  b = await processReplica(env);
  proxy.unblock();
  await until('B ready', () => ready(b), 10_000);
  await until('C ready again', () => ready(c), 10_000);
  await until('C reflects the deletes', () => c.definitions.revision >= head && c.definitions.instance('gone') === undefined);
  assert.equal(c.definitions.tool('r2'), undefined);
  const loaded = b.process.lines.find((line) => line.message === 'configuration loaded');
  assert.ok(loaded !== undefined && Number(loaded.revision) >= head, JSON.stringify(loaded));
  for (const gateway of [b, c]) {
    assert.deepEqual(await served(gateway, 'kept'), ['r1', 'r3']);
    assert.equal((await gateway.admin('GET', '/admin/tds/r2')).status, 404);
    await assert.rejects(served(gateway, 'gone'), 'the deleted instance is not served');
  }
  await Promise.all([stopReplica(a), stopReplica(c), b.process.stop(5000)]);
});
