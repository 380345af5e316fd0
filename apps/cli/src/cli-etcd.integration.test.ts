// `dynmcp apply` against a gateway on a real etcd (the @dynmcp/testing harness): one atomic
// write, a no-op re-apply, a prune, and the change visible on a second replica. Never skipped.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcdServer, type EtcdServer } from '@dynmcp/testing';
import { ADMIN_KEY, makeCliHome, runCli, startGateway, type CliHome, type GatewayProcess } from './test-support/cli-harness.js';

const PREFIX = `/dynmcp-cli-${process.pid}`;

let etcd: EtcdServer;
let home: CliHome;
const replicas: GatewayProcess[] = [];

before(async () => {
  etcd = await startEtcdServer();
  home = makeCliHome();
  const env = { DYNMCP_DATASOURCE: 'etcd', DYNMCP_ETCD_ENDPOINTS: etcd.endpoint, DYNMCP_ETCD_PREFIX: PREFIX, DYNMCP_SHUTDOWN_GRACE_MS: '1000' };
  replicas.push(...(await Promise.all([startGateway(home.dir, env), startGateway(home.dir, env)])));
});

after(async () => {
  await Promise.all(replicas.map((replica) => replica.stop()));
  await etcd.close();
  home.remove();
});

const tool = (id: string, description: string) =>
  `kind: tool\nid: ${id}\nname: ${id}\ndescription: ${description}\ninput_schema: { type: object }\ntds_ext_info: { domain: "http://127.0.0.1:9", method: GET, path: /${id} }\n`;

async function revisionOn(url: string): Promise<number> {
  const response = await fetch(`${url}/admin/status`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return ((await response.json()) as { data: { store_revision: number } }).data.store_revision;
}

test('apply on etcd: one revision, a no-op re-apply, prune, and the other replica sees it', async () => {
  const [first, second] = replicas as [GatewayProcess, GatewayProcess];
  const env = { ...home.env, DYNMCP_URL: first.url, DYNMCP_API_KEY: ADMIN_KEY };
  const file = join(home.dir, 'defs.yaml');
  writeFileSync(file, `${tool('alpha', 'first')}---\n${tool('beta', 'second')}---\nkind: instance\nid: shop\nname: Shop\ntool_ids: [alpha, beta]\n`);

  const before = await revisionOn(first.url);
  const applied = await runCli(['apply', '-f', file], env);
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /3 created/);
  const after = await revisionOn(first.url);
  assert.ok(after > before);

  const again = await runCli(['apply', '-f', file, '-o', 'json'], env);
  assert.equal(JSON.parse(again.stdout).written, false);
  assert.equal(await revisionOn(first.url), after, 'nothing written the second time');

  writeFileSync(file, `${tool('alpha', 'changed')}---\nkind: instance\nid: shop\nname: Shop\ntool_ids: [alpha]\n`);
  const pruned = await runCli(['apply', '-f', file, '--prune', '--yes'], env);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /0 created, 2 updated, 1 deleted/);

  // The second replica follows the store's feed; the diff through it converges to "no differences".
  const viaSecond = { ...env, DYNMCP_URL: second.url };
  let diff = await runCli(['diff', '-f', file, '--prune'], viaSecond);
  for (let tries = 0; diff.code !== 0 && tries < 20; tries++) {
    await sleep(100);
    diff = await runCli(['diff', '-f', file, '--prune'], viaSecond);
  }
  assert.equal(diff.code, 0, diff.stdout + diff.stderr);
});
