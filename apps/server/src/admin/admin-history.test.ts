// History, rollback and audit of definitions through a real gateway on SQLite: who changed what,
// recorded by principal name (never a key), rollback of an old version and of a deleted record as a
// new revision, the audit since a revision, and every bad input a 4xx with a stable code.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSqlDataSource } from '@dynmcp/datasources';
import { SESSION_REVOCATION_KIND } from '@dynmcp/core';
import { isGatewayError, requireBatch, silentLogger } from '@dynmcp/plugin';
import { createAdminHistory } from './admin-history.js';
import { sessionChurnStory } from '../test-support/session-churn.js';
import { echoTool, startTestGateway, TEST_KEY, type AdminResponse, type TestGateway } from '../test-support/test-gateway.js';

const UPSTREAM = 'http://127.0.0.1:9';
const ALICE_KEY = 'alice-secret-key-4711';
const BOT_KEY = 'ops-bot-secret-key-0815';
const KEYS = [TEST_KEY, ALICE_KEY, BOT_KEY, `alice:${ALICE_KEY}`];
const PLAIN_PRINCIPAL = `api-key:${createHash('sha256').update(TEST_KEY).digest('hex').slice(0, 12)}`;

interface Entry {
  revision: number;
  at: number;
  principal?: string;
  action: string;
  deleted: boolean;
  value?: { description?: string; name?: string };
}

describe('admin history, rollback and audit', () => {
  let gw: TestGateway;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const revisionOf = (response: AdminResponse) => Number(JSON.parse(response.headers.get('etag') ?? 'null'));
  const noKeys = (response: AdminResponse) => {
    const text = JSON.stringify(response.body);
    for (const key of KEYS) assert.ok(!text.includes(key), 'no key in the answer');
  };

  before(async () => {
    gw = await startTestGateway({
      admin: { apiKeys: [TEST_KEY, `alice:${ALICE_KEY}`] },
      auth: { keys: [{ id: 'ops-bot', key: BOT_KEY, admin: true }] },
    });
  });
  after(() => gw.stop());

  test('history lists every version newest first with the principal names; rollback writes an old version as a new revision', async () => {
    const v1 = await gw.admin('PUT', '/admin/tds/h-tool', echoTool('h-tool', UPSTREAM, { description: 'one' }), as(ALICE_KEY));
    assert.equal(v1.status, 200, JSON.stringify(v1.body));
    const v2 = await gw.admin('PUT', '/admin/tds/h-tool', echoTool('h-tool', UPSTREAM, { description: 'two' }), as(BOT_KEY));
    const del = await gw.admin('DELETE', '/admin/tds/h-tool');
    assert.equal(del.status, 200);

    const history = await gw.admin('GET', '/admin/tds/h-tool/history');
    assert.equal(history.status, 200);
    noKeys(history);
    const entries = history.body.data as Entry[];
    assert.deepEqual(
      entries.map((entry) => [entry.revision, entry.action, entry.principal, entry.deleted, entry.value?.description]),
      [
        [del.body.meta.revision, 'delete', PLAIN_PRINCIPAL, true, undefined],
        [revisionOf(v2), 'put', 'ops-bot', false, 'two'],
        [revisionOf(v1), 'put', 'alice', false, 'one'],
      ],
    );
    assert.equal((await gw.admin('GET', '/admin/tds/h-tool/history?limit=1')).body.data.length, 1);

    // Rolling back a deleted tool brings it back, at a new revision, as the principal who did it.
    const back = await gw.admin('POST', '/admin/tds/h-tool/rollback', { revision: revisionOf(v1) }, as(`alice:${ALICE_KEY}`));
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.data.description, 'one');
    assert.equal(back.body.meta.rolled_back_to, revisionOf(v1));
    const restored = revisionOf(back);
    assert.ok(restored > del.body.meta.revision);
    const read = await gw.admin('GET', '/admin/tds/h-tool');
    assert.equal(read.status, 200);
    assert.equal(read.body.data.description, 'one');
    assert.equal(revisionOf(read), restored);

    // If-Match is honoured: a stale ETag is 412 and writes nothing; the current one rolls back.
    const stale = await gw.admin('POST', '/admin/tds/h-tool/rollback', { revision: revisionOf(v2) }, { 'if-match': `"${revisionOf(v1)}"` });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.error_code, 'PRECONDITION_FAILED');
    const current = await gw.admin('POST', '/admin/tds/h-tool/rollback', { revision: revisionOf(v2) }, { 'if-match': `"${restored}"` });
    assert.equal(current.status, 200);
    assert.equal(current.body.data.description, 'two');

    const after = (await gw.admin('GET', '/admin/tds/h-tool/history?limit=2')).body.data as Entry[];
    assert.deepEqual(
      after.map((entry) => [entry.revision, entry.action, entry.principal]),
      [
        [revisionOf(current), 'rollback', PLAIN_PRINCIPAL],
        [restored, 'rollback', 'alice'],
      ],
    );
  });

  test('instances have history and rollback too', async () => {
    const one = await gw.admin('PUT', '/admin/ids/h-inst', { id: 'h-inst', name: 'first', tool_ids: [] }, as(BOT_KEY));
    await gw.admin('PUT', '/admin/ids/h-inst', { id: 'h-inst', name: 'second', tool_ids: [] });
    const back = await gw.admin('POST', '/admin/ids/h-inst/rollback', { revision: revisionOf(one) });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal((await gw.admin('GET', '/admin/ids/h-inst')).body.data.name, 'first');
    const entries = (await gw.admin('GET', '/admin/ids/h-inst/history')).body.data as Entry[];
    assert.deepEqual(entries.map((entry) => entry.action), ['rollback', 'put', 'put']);
    assert.equal(entries.at(-1)?.principal, 'ops-bot');
  });

  test('an old version that no longer passes today\'s checks is refused with 400 saying why', async () => {
    // Written straight into the store (as an older gateway, or a hand edit, would have): the live
    // definitions refuse it, and a rollback to it must too.
    const store = createSqlDataSource({ client: 'sqlite', filename: join(gw.dataDir, 'dynmcp.sqlite'), logger: silentLogger });
    await store.open();
    let bad: number;
    try {
      bad = (await store.put('tds', 'h-old', { ...echoTool('h-old', UPSTREAM), name: 'not a valid name!' })).revision;
    } finally {
      await store.close();
    }
    const good = await gw.admin('PUT', '/admin/tds/h-old', echoTool('h-old', UPSTREAM));
    assert.equal(good.status, 200);
    const refused = await gw.admin('POST', '/admin/tds/h-old/rollback', { revision: bad });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error_code, 'INVALID_PAYLOAD');
    assert.match(refused.body.error, new RegExp(`revision ${bad} of tool "h-old" does not pass today's checks: .*name`));
    assert.equal(revisionOf(await gw.admin('GET', '/admin/tds/h-old')), revisionOf(good));
  });

  test('bad input: stable codes for a bad or unknown revision, a deletion, an unknown id, limits and since out of range', async () => {
    const put = await gw.admin('PUT', '/admin/tds/h-bad', echoTool('h-bad', UPSTREAM));
    const del = await gw.admin('DELETE', '/admin/tds/h-bad');
    const cases: Array<[string, string, unknown, number, string]> = [
      ['POST', '/admin/tds/h-bad/rollback', { revision: 'one' }, 400, 'INVALID_PAYLOAD'],
      ['POST', '/admin/tds/h-bad/rollback', { revision: 1.5 }, 400, 'INVALID_PAYLOAD'],
      ['POST', '/admin/tds/h-bad/rollback', { revision: 0 }, 400, 'INVALID_PAYLOAD'],
      ['POST', '/admin/tds/h-bad/rollback', {}, 400, 'INVALID_PAYLOAD'],
      // A misspelt field is refused, not ignored (with a revision that would otherwise be rolled back to).
      ['POST', '/admin/tds/h-bad/rollback', { revision: revisionOf(put), if_revision: 3 }, 400, 'INVALID_PAYLOAD'],
      ['POST', '/admin/tds/h-bad/rollback', { revision: 999_999 }, 404, 'REVISION_NOT_FOUND'],
      ['POST', '/admin/tds/h-bad/rollback', { revision: del.body.meta.revision }, 400, 'INVALID_PAYLOAD'],
      // A revision of another record is not a version of this one.
      ['POST', '/admin/ids/h-bad/rollback', { revision: revisionOf(put) }, 404, 'REVISION_NOT_FOUND'],
      ['GET', '/admin/tds/never-written/history', undefined, 404, 'TOOL_NOT_FOUND'],
      ['GET', '/admin/ids/never-written/history', undefined, 404, 'INSTANCE_NOT_FOUND'],
      ['GET', '/admin/tds/h-bad/history?limit=0', undefined, 400, 'INVALID_PAYLOAD'],
      ['GET', '/admin/tds/h-bad/history?limit=1001', undefined, 400, 'INVALID_PAYLOAD'],
      ['GET', '/admin/tds/h-bad/history?limit=ten', undefined, 400, 'INVALID_PAYLOAD'],
      ['GET', '/admin/audit?since=-1', undefined, 400, 'INVALID_PAYLOAD'],
      ['GET', '/admin/audit?since=1.5', undefined, 400, 'INVALID_PAYLOAD'],
      ['GET', '/admin/audit?limit=5000', undefined, 400, 'INVALID_PAYLOAD'],
      ['DELETE', '/admin/audit', undefined, 405, 'METHOD_NOT_ALLOWED'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const response = await gw.admin(method, path, body);
      assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error_code, code, `${method} ${path}`);
    }
    const text = await gw.admin('POST', '/admin/tds/h-bad/rollback', 'revision=1', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    // Without an admin credential, nothing.
    const anonymous = await fetch(`${gw.url}/admin/audit`);
    assert.equal(anonymous.status, 401);
  });

  test('the audit lists every change after a revision, ascending, with principals and no values; reads are not audited', async () => {
    const start = revisionOf(await gw.admin('PUT', '/admin/tds/a-one', echoTool('a-one', UPSTREAM), as(ALICE_KEY)));
    const two = revisionOf(await gw.admin('PUT', '/admin/tds/a-two', echoTool('a-two', UPSTREAM), as(BOT_KEY)));
    await gw.admin('GET', '/admin/tds/a-two');
    await gw.admin('GET', '/admin/tds/a-two/history');
    const gone = await gw.admin('DELETE', '/admin/tds/a-one', undefined, as(ALICE_KEY));

    const audit = await gw.admin('GET', `/admin/audit?since=${start}`);
    assert.equal(audit.status, 200);
    noKeys(audit);
    assert.deepEqual(
      audit.body.data.entries.map((entry: Entry & { kind: string; id: string }) => [entry.revision, entry.kind, entry.id, entry.action, entry.principal, entry.deleted]),
      [
        [two, 'tds', 'a-two', 'put', 'ops-bot', false],
        [gone.body.meta.revision, 'tds', 'a-one', 'delete', 'alice', true],
      ],
    );
    assert.ok(audit.body.data.entries.every((entry: Entry) => !('value' in entry)));
    assert.equal(audit.body.data.next_since, gone.body.meta.revision);
    const page = await gw.admin('GET', `/admin/audit?since=${start}&limit=1`);
    assert.deepEqual(page.body.data.entries.map((entry: Entry) => entry.revision), [two]);
    assert.equal(page.body.data.next_since, two);
    const empty = await gw.admin('GET', `/admin/audit?since=${gone.body.meta.revision}`);
    assert.deepEqual(empty.body.data, { entries: [], next_since: gone.body.meta.revision });
    const all = await gw.admin('GET', '/admin/audit');
    assert.ok(all.body.data.entries.length >= 3);
  });
});

test('ended sessions leave no audit entry and no history, and still reach the other replica; a tool PUT is audited', async () => {
  const settings = { mcp: { sessionSecret: randomBytes(32).toString('base64') } };
  const a = await startTestGateway(settings);
  const b = await startTestGateway(settings, { dataDir: a.dataDir });
  const store = createSqlDataSource({ client: 'sqlite', filename: join(a.dataDir, 'dynmcp.sqlite'), logger: silentLogger });
  try {
    await store.open();
    await sessionChurnStory(a, b, store);
  } finally {
    await store.close();
    await b.stop();
    await a.stop();
  }
});

test('the audit shows tools, instances and credentials only, also from a datasource that records internal writes', async () => {
  const gw = await startTestGateway();
  const store = createSqlDataSource({ client: 'sqlite', filename: join(gw.dataDir, 'plugin.sqlite'), logger: silentLogger });
  try {
    await store.open();
    const history = createAdminHistory({ service: {} as never, datasource: store });
    // Written tracked, as a datasource plugin that ignores `untracked` would record ended sessions.
    const tool = await store.put('tds', 'a', {});
    const internal: number[] = [];
    for (let index = 0; index < 25; index++) internal.push((await store.put(SESSION_REVOCATION_KIND, `n${index}`, {})).revision);
    const credential = await store.put('credential', 'alice/token', {});
    const mixed = await requireBatch(store).batch([
      { op: 'put', kind: SESSION_REVOCATION_KIND, id: 'm', value: {} },
      { op: 'put', kind: 'ids', id: 'i', value: {} },
    ]);
    const last = await store.delete(SESSION_REVOCATION_KIND, 'm');
    const brief = (page: { entries: Array<{ revision: number; kind: string; id: string }> }) => page.entries.map((entry) => [entry.revision, entry.kind, entry.id]);

    const all = await history.audit(0, 100);
    assert.deepEqual(brief(all), [
      [tool.revision, 'tds', 'a'],
      [credential.revision, 'credential', 'alice/token'],
      [mixed.revision, 'ids', 'i'],
    ]);
    assert.equal(all.next_since, last, 'past the internal entries at the end');
    // A page reads on past internal entries to fill up, 10 reads at most (here: `a`, then n0 to n9)...
    const page = await history.audit(0, 2);
    assert.deepEqual(brief(page), [[tool.revision, 'tds', 'a']]);
    assert.equal(page.next_since, internal[9]);
    // ...so a long stretch of them is an empty page whose next_since moved on, never a page stuck in place.
    assert.deepEqual(await history.audit(tool.revision, 1), { entries: [], next_since: internal[9] });
    assert.deepEqual(await history.audit(internal[9]!, 1), { entries: [], next_since: internal[19] });
    const reached = await history.audit(internal[19]!, 1);
    assert.deepEqual(brief(reached), [[credential.revision, 'credential', 'alice/token']]);
    assert.equal(reached.next_since, credential.revision);
  } finally {
    await store.close();
    await gw.stop();
  }
});

test('a datasource without history(): history, rollback and audit fail with HISTORY_UNSUPPORTED (501) naming it', async () => {
  const gw = await startTestGateway();
  try {
    const store = createSqlDataSource({ client: 'sqlite', filename: join(gw.dataDir, 'dynmcp.sqlite'), logger: silentLogger });
    await store.open();
    const { history: _history, audit: _audit, ...plain } = store;
    const history = createAdminHistory({ service: {} as never, datasource: { ...plain, name: 'file-store' } });
    for (const attempt of [() => history.history('tds', 'a', 10), () => history.rollback('tds', 'a', 1, undefined, 'x'), () => history.audit(0, 10)]) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(isGatewayError(error));
        assert.equal(error.code, 'HISTORY_UNSUPPORTED');
        assert.equal(error.status, 501);
        assert.match(error.message, /datasource "file-store" keeps no history of definitions.*plugin API 3/);
        return true;
      });
    }
    await store.close();
  } finally {
    await gw.stop();
  }
});
