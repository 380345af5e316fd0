/**
 * Ended sessions on a real store (one SQLite file, a datasource and live definitions per replica,
 * as two gateways have): a revocation recorded by one replica reaches another through its feed, a
 * replica started later reads it at its first snapshot, expired ones are purged from the store,
 * and the number held is capped. The end-to-end story (DELETE on one gateway, 404 on the other) is
 * in session-tokens.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLiveDefinitions, createSchemaCompiler, type LiveDefinitions } from '@dynmcp/common';
import { createSessionRevocations, isRevocationsFull, SESSION_REVOCATION_KIND, type SessionRevocations } from '@dynmcp/core';
import { createSqlDataSource } from '@dynmcp/datasources';
import { requireHistory, silentLogger, type DataSource } from '@dynmcp/plugin';

let dir: string;
let clock = Date.now();
const now = () => clock;
const opened: Array<{ store: DataSource; definitions: LiveDefinitions; revocations: SessionRevocations }> = [];

/** One replica's view of the store: its own datasource, live definitions and revocations. */
async function replica(options: { maxRevocations?: number } = {}) {
  const store = createSqlDataSource({ client: 'sqlite', filename: join(dir, 'db.sqlite'), pollIntervalMs: 50, logger: silentLogger });
  await store.open();
  const definitions = createLiveDefinitions({ datasource: store, compiler: createSchemaCompiler(), logger: silentLogger });
  await definitions.start();
  const revocations = createSessionRevocations({ datasource: store, definitions, logger: silentLogger, now, purgeEveryMs: 50, ...options });
  const entry = { store, definitions, revocations };
  opened.push(entry);
  return entry;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dynmcp-revocations-'));
});
after(async () => {
  for (const { revocations, definitions, store } of opened.reverse()) {
    await revocations.close();
    await definitions.close();
    await store.close().catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('a revocation reaches the other replicas through the feed, and a later replica reads it at start', async () => {
  const a = await replica();
  const b = await replica();
  const heard: string[] = [];
  b.revocations.onRevoked((nonce) => heard.push(nonce));
  await a.revocations.revoke('nonce-1', clock + 10 * 60_000);
  assert.equal(a.revocations.has('nonce-1'), true, 'at once where it was recorded');
  const records = await a.store.list(SESSION_REVOCATION_KIND);
  assert.deepEqual(records.map((record) => record.id), [`${Math.ceil((clock + 10 * 60_000) / 1000)}.nonce-1`]);
  await until('B learns it from its feed', () => b.revocations.has('nonce-1'));
  assert.deepEqual(heard, ['nonce-1']);
  const c = await replica();
  await until('C, started later, reads it', () => c.revocations.has('nonce-1'));
});

test('expired revocations are forgotten and purged from the store', async () => {
  const [a] = opened;
  await a!.revocations.revoke('nonce-2', clock + 1000);
  assert.equal((await a!.store.list(SESSION_REVOCATION_KIND)).length, 2);
  clock += 62_000; // past nonce-2's expiry and the purge's grace, not past nonce-1's
  await until('nonce-2 is purged', async () => (await a!.store.list(SESSION_REVOCATION_KIND)).length === 1);
  assert.equal(a!.revocations.has('nonce-2'), false);
  assert.equal(a!.revocations.has('nonce-1'), true);
  clock += 10 * 60_000;
  await until('every replica purged or forgot nonce-1', async () =>
    (await a!.store.list(SESSION_REVOCATION_KIND)).length === 0 && opened.every(({ revocations }) => !revocations.has('nonce-1')),
  );
  // Session churn, not operators' changes: neither the revocations nor their purges are in the history.
  assert.deepEqual(await requireHistory(a!.store).audit({ since: 0, limit: 1000 }), []);
});

test('the number held is capped, and an unreachable store refuses the revocation', async () => {
  const capped = await replica({ maxRevocations: 1 });
  await capped.revocations.revoke('nonce-3', clock + 60_000);
  await assert.rejects(capped.revocations.revoke('nonce-4', clock + 60_000), (error) => isRevocationsFull(error));
  assert.equal(capped.revocations.has('nonce-4'), false);
  const [a] = opened;
  await a!.store.close();
  await assert.rejects(a!.revocations.revoke('nonce-5', clock + 60_000), (error) => !isRevocationsFull(error));
  assert.equal(a!.revocations.has('nonce-5'), false, 'not recorded here either');
});
