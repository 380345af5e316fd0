/**
 * Sessions across replicas, with real parts: three gateway processes sharing one etcd and one
 * `DYNMCP_SESSION_SECRET`, behind HAProxy and then nginx, each run from its sample configuration
 * in config/load-balancers/ (round robin, no affinity). Official v1 SDK clients keep their 2025-era
 * sessions through every call with no error, hear `list_changed` after admin changes on the GET
 * streams whichever replica holds them, and a replica killed (SIGKILL) mid-run costs no client its
 * session. Never skipped: haproxy, nginx and etcd are installed by scripts/test.mjs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { freePort, startEtcdServer, startUpstream, type EtcdServer, type TestUpstream } from '@dynmcp/testing';
import { startGatewayProcess, type GatewayProcess } from '../test-support/gateway-process.js';
import { connectLegacy, TEST_AUTH } from '../test-support/mcp-clients.js';
import { echoTool, TEST_KEY } from '../test-support/test-gateway.js';

const balancers = fileURLToPath(new URL('../../../../config/load-balancers/', import.meta.url));
const SECRET = randomBytes(32).toString('base64');

let etcd: EtcdServer;
let upstream: TestUpstream;
let dir: string;
const replicas: GatewayProcess[] = [];
const balancerProcesses: ChildProcess[] = [];

/**
 * Stops a load balancer and waits for it: nginx's master ends its workers on SIGTERM before it
 * exits, while a master killed outright would leave them running.
 */
async function stopBalancer(balancer: ChildProcess): Promise<void> {
  if (balancer.exitCode !== null || balancer.signalCode !== null) return;
  const exited = new Promise((resolve) => balancer.once('exit', resolve));
  balancer.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000)]);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-lb-'));
  [etcd, upstream] = await Promise.all([startEtcdServer(), startUpstream()]);
});

after(async () => {
  for (const balancer of balancerProcesses) if (balancer.exitCode === null) balancer.kill('SIGKILL');
  await Promise.all(replicas.map((replica) => replica.stop(2000)));
  await upstream?.close();
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startReplica(): Promise<{ process: GatewayProcess; url: string }> {
  const replica = startGatewayProcess({
    DYNMCP_HOST: '127.0.0.1',
    DYNMCP_PORT: '0',
    DYNMCP_API_KEYS: TEST_KEY,
    DYNMCP_DATASOURCE: 'etcd',
    DYNMCP_ETCD_ENDPOINTS: etcd.endpoint,
    DYNMCP_SESSION_SECRET: SECRET,
    DYNMCP_EGRESS_ALLOW: '127.0.0.1',
    DYNMCP_SHUTDOWN_GRACE_MS: '500',
  });
  replicas.push(replica);
  const url = await replica.url;
  return { process: replica, url };
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(50);
  }
}

async function admin(base: string, method: string, path: string, body: unknown): Promise<number> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return Number(response.headers.get('etag')?.replace(/"/g, ''));
}

/** Waits until every replica has applied `revision` (its own entry of GET /admin/status). */
async function applied(urls: string[], revision: number) {
  for (const url of urls) {
    await until(`${url} applied revision ${revision}`, async () => {
      const response = await fetch(`${url}/admin/status`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
      const { data } = (await response.json()) as { data: { replica_id: string; replicas: Array<{ id: string; applied_revision: number }> } };
      return data.replicas.some((replica) => replica.id === data.replica_id && replica.applied_revision >= revision);
    });
  }
}

/** Waits until the balancer at `base` forwards to a ready replica. */
async function balancerUp(base: string, balancer: ChildProcess) {
  await until('the balancer answers', async () => {
    assert.equal(balancer.exitCode, null, 'the balancer exited');
    return fetch(`${base}/readyz`).then((response) => response.status === 200, () => false);
  });
}

interface FlowOptions {
  base: string;
  urls: string[];
  clients: number;
  calls: number;
  /** Killed (SIGKILL) once this share of the calls is done. */
  victim: GatewayProcess;
  instance: string;
}

/**
 * The whole story through one balancer: sessions opened, a list change heard by every client,
 * `calls` calls in all, a replica killed on the way, then another list change heard by every
 * client (whose GET streams reconnected to the replicas left).
 */
async function sessionFlow(t: { diagnostic(message: string): void }, options: FlowOptions) {
  const { base, urls, instance } = options;
  await applied(urls, await admin(urls[0]!, 'PUT', `/admin/ids/${instance}`, { name: instance, tool_ids: ['echo'] }));
  const clients = await Promise.all(Array.from({ length: options.clients }, () => connectLegacy(`${base}/mcp/${instance}`, TEST_AUTH)));
  const heard = clients.map(() => 0);
  clients.forEach(({ client }, index) => {
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      heard[index]! += 1;
    });
  });
  const sessionIds = clients.map(({ transport }) => transport.sessionId);
  try {
    // The v1 client opens its GET stream after initialize, through the balancer, on any replica.
    await sleep(500);
    await applied(urls, await admin(urls[1]!, 'PUT', `/admin/ids/${instance}`, { name: instance, tool_ids: ['echo', 'other'] }));
    await until('every client heard list_changed', () => heard.every((count) => count >= 1));

    let done = 0;
    let killedAt: number | undefined;
    let killTime = 0;
    const errors: string[] = [];
    const retried: string[] = [];
    const perClient = Math.ceil(options.calls / options.clients);
    /** A failure the kill explains: the balancer's 502/503/504 or a dropped connection, within 5 s of it. */
    const cutByKill = (error: unknown) => {
      const { message, code } = error as Error & { code?: unknown };
      const cut = message === 'fetch failed' || code === 502 || code === 503 || code === 504;
      return cut && killedAt !== undefined && Date.now() - killTime < 5000;
    };
    const call = async (client: (typeof clients)[number]['client'], item: string) => {
      const result = await client.callTool({ name: 'echo', arguments: { path: { item } } });
      const text = JSON.stringify(result.content);
      if (result.isError === true || !text.includes(`/items/${item}`)) errors.push(`${item}: ${text.slice(0, 200)}`);
    };
    await Promise.all(
      clients.map(async ({ client }, index) => {
        for (let n = 0; n < perClient && done < options.calls; n += 1) {
          const item = `c${index}-${n}`;
          try {
            await call(client, item);
          } catch (error) {
            // A call in flight on the replica when it died is lost with it: the balancer answers
            // 502 (both configurations never resend a POST a replica received, so no tool call
            // runs twice) or drops the client connection that carried it. The session is not lost:
            // the client sends the call again in the same session. Anything else, or later, is an error.
            if (!cutByKill(error)) errors.push(`${item}: ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}`);
            else {
              retried.push(item);
              // The resend can meet the dead replica once more within the kill's window (nginx's
              // kept-alive connection to it, closed by the kill, taken before nginx noticed): sent
              // again then too; a failure of any other kind, or later, is an error.
              for (;;) {
                try {
                  await call(client, item);
                  break;
                } catch (again) {
                  if (cutByKill(again)) {
                    await sleep(100);
                    continue;
                  }
                  errors.push(`${item} (again): ${(again as Error).message}`);
                  break;
                }
              }
            }
          }
          done += 1;
          if (killedAt === undefined && done >= options.calls * 0.4) {
            killedAt = done;
            killTime = Date.now();
            options.victim.child.kill('SIGKILL');
          }
        }
      }),
    );
    t.diagnostic(`calls sent again, in the same session, after the kill cut them: ${retried.length} (${retried.join(', ')})`);
    assert.ok(retried.length <= options.clients, 'at most the calls in flight at the kill');
    t.diagnostic(`${done} calls through ${options.clients} sessions, a replica killed after ${killedAt}`);
    assert.deepEqual(errors, [], 'no call failed');
    assert.ok(done >= options.calls);
    assert.deepEqual(
      clients.map(({ transport }) => transport.sessionId),
      sessionIds,
      'every client kept its session',
    );

    // After the kill: the GET streams that were on the dead replica reconnect to the others, a
    // second or so later (the client's reconnection delay); a notification sent before a stream is
    // back is not replayed (no event store), so the change is made again until every client heard one.
    const before = [...heard];
    const live = urls.filter((_, index) => index !== 2);
    const allHeard = () => heard.every((count, index) => count > before[index]!);
    for (let round = 0; round < 15 && !allHeard(); round += 1) {
      const toolIds = round % 2 === 0 ? ['echo'] : ['echo', 'other'];
      await applied(live, await admin(live[round % 2]!, 'PUT', `/admin/ids/${instance}`, { name: instance, tool_ids: toolIds }));
      await until('a round of notifications', allHeard, 1000).catch(() => undefined);
    }
    assert.ok(allHeard(), `every client heard a list change after the kill (before ${before.join()}, now ${heard.join()})`);
    await applied(live, await admin(live[0]!, 'PUT', `/admin/ids/${instance}`, { name: instance, tool_ids: ['echo'] }));
    for (const { client } of clients) assert.equal((await client.listTools()).tools.length, 1);
  } finally {
    for (const { client, transport } of clients) {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    }
  }
}

/** Three running replicas: the ones an earlier test left, and new ones; the tools both flows call. */
async function threeReplicas() {
  const alive = replicas.filter((replica) => replica.child.exitCode === null && replica.child.signalCode === null).slice(0, 3);
  const started = await Promise.all(alive.map(async (replica) => ({ process: replica, url: await replica.url })));
  started.push(...(await Promise.all(Array.from({ length: 3 - started.length }, () => startReplica()))));
  const urls = started.map((replica) => replica.url);
  await admin(urls[0]!, 'PUT', '/admin/tds/echo', echoTool('echo', upstream.url));
  await admin(urls[0]!, 'PUT', '/admin/tds/other', echoTool('other', upstream.url));
  return { urls, hosts: urls.map((url) => new URL(url).host), victim: started[2]!.process };
}

test('behind HAProxy (config/load-balancers/haproxy.cfg): 1,000 calls over sessions that move between replicas', async (t) => {
  const { urls, hosts, victim } = await threeReplicas();
  const port = await freePort();
  const haproxy = spawn('haproxy', ['-f', join(balancers, 'haproxy.cfg'), '-db'], {
    env: { PATH: process.env.PATH ?? '', DYNMCP_LB_BIND: `127.0.0.1:${port}`, DYNMCP_GW1: hosts[0]!, DYNMCP_GW2: hosts[1]!, DYNMCP_GW3: hosts[2]! },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  balancerProcesses.push(haproxy);
  const base = `http://127.0.0.1:${port}`;
  await balancerUp(base, haproxy);
  await sessionFlow(t, { base, urls, clients: 8, calls: 1000, victim, instance: 'lb-haproxy' });
  await stopBalancer(haproxy);
});

test('behind nginx (config/load-balancers/nginx.conf, proxy_buffering off): the same flow, shorter', async (t) => {
  const { urls, hosts, victim } = await threeReplicas();
  const port = await freePort();
  const values: Record<string, string> = { DYNMCP_LB_LISTEN: `127.0.0.1:${port}`, DYNMCP_GW1: hosts[0]!, DYNMCP_GW2: hosts[1]!, DYNMCP_GW3: hosts[2]! };
  const config = readFileSync(join(balancers, 'nginx.conf'), 'utf8').replace(/\$\{(DYNMCP_[A-Z0-9_]+)\}/g, (_, name: string) => values[name] ?? '');
  const configFile = join(dir, 'nginx.conf');
  writeFileSync(configFile, config);
  const nginx = spawn('nginx', ['-p', dir, '-c', configFile, '-e', join(dir, 'nginx-error.log'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  balancerProcesses.push(nginx);
  const base = `http://127.0.0.1:${port}`;
  await balancerUp(base, nginx);
  await sessionFlow(t, { base, urls, clients: 4, calls: 300, victim, instance: 'lb-nginx' });
  await stopBalancer(nginx);
});
