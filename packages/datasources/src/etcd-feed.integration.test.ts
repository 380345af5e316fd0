/**
 * The etcd feed loop against a real etcd, with hooks between "load at R" and "watch from R+1":
 * the two windows where a naive list-then-watch loses changes (writes between load and watch; a
 * compacted start revision), and a store whose revision goes backwards.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { silentLogger, type FeedEvent, type FeedSubscription } from '@dynmcp/plugin';
import { startEtcdServer, type EtcdServer } from '@dynmcp/testing';
import { createEtcdDataSource } from './etcd-datasource.js';
import { createEtcdFeed } from './etcd-feed.js';
import { createEtcdKeys } from './etcd-keys.js';
import { readRange, type RangeSnapshot } from './etcd-records.js';
import type { FeedState } from './feed-loop.js';

let etcd: EtcdServer;
let client: Etcd3;
const feeds: FeedSubscription[] = [];

before(async () => {
  etcd = await startEtcdServer();
  client = new Etcd3({ hosts: [etcd.endpoint] });
});

after(async () => {
  await Promise.all(feeds.map((feed) => feed.close()));
  client?.close();
  await etcd?.close();
});

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(25);
  }
}

/** A feed on `prefix` whose snapshot load runs `afterLoad` once, after reading and before watching. */
function feedWithHook(prefix: string, afterLoad: (snapshot: RangeSnapshot) => Promise<void>) {
  const keys = createEtcdKeys(prefix);
  const events: FeedEvent[] = [];
  const states: FeedState[] = [];
  const model = new Map<string, unknown>();
  let hooked = false;
  const feed = createEtcdFeed({
    handlers: {
      onEvent(event) {
        events.push(event);
        if (event.type === 'snapshot') {
          model.clear();
          for (const r of event.records) model.set(r.id, r.value);
        } else {
          for (const c of event.changes) {
            if (c.type === 'put') model.set(c.id, c.value);
            else model.delete(c.id);
          }
        }
      },
    },
    keys,
    async loadSnapshot() {
      const snapshot = await readRange({ client, keys, logger: silentLogger, timeoutMs: 3000 }, keys.root);
      if (!hooked) {
        hooked = true;
        await afterLoad(snapshot);
      }
      return snapshot;
    },
    openStream: () => client.watchClient.watch(),
    onState: (state) => states.push(state),
    watchTimeoutMs: 5000,
    initialBackoffMs: 50,
    maxBackoffMs: 500,
    logger: silentLogger,
  });
  feeds.push(feed);
  return { events, states, model, snapshots: () => events.filter((e) => e.type === 'snapshot').length };
}

test('writes made between the snapshot load and the watch start are delivered, not lost', async () => {
  const prefix = `/feed-startup-${process.pid}`;
  await etcd.put(`${prefix}/tds/a`, '{"v":1}');
  const feed = feedWithHook(prefix, async () => {
    // The load has read revision R; these land at R+1… before the watch exists.
    await etcd.put(`${prefix}/tds/b`, '{"v":2}');
    await etcd.put(`${prefix}/tds/a`, '{"v":"changed"}');
    await etcd.del(`${prefix}/tds/a`);
  });
  await until('the writes after the load arrived', () => feed.model.has('b') && !feed.model.has('a') && feed.events.length >= 2);
  assert.equal(feed.snapshots(), 1, 'from the watch at R+1, without another load');
  const changes = feed.events.filter((e) => e.type === 'changes').flatMap((e) => e.changes);
  assert.deepEqual(
    changes.map((c) => `${c.type}:${c.id}`),
    ['put:b', 'put:a', 'delete:a'],
  );
});

test('a watch whose start revision was compacted away makes the feed reload and watch again', async () => {
  const prefix = `/feed-compacted-${process.pid}`;
  await etcd.put(`${prefix}/tds/keep`, '{"v":1}');
  await etcd.put(`${prefix}/tds/gone`, '{"v":1}');
  const feed = feedWithHook(prefix, async () => {
    await etcd.del(`${prefix}/tds/gone`);
    await etcd.put(`${prefix}/tds/new`, '{"v":1}');
    // History up to now is gone: a watch from R+1 is cancelled by etcd with compact_revision.
    await etcd.compact(await etcd.revision());
  });
  await until('reloaded after the compaction', () => feed.snapshots() === 2);
  assert.ok(feed.states.some((state) => !state.connected && /compact/.test(state.reason ?? '')), 'the break names the compaction');
  assert.deepEqual([...feed.model.keys()].sort(), ['keep', 'new']);
  await etcd.put(`${prefix}/tds/later`, '{"v":1}');
  await until('later writes arrive on the new watch', () => feed.model.has('later'));
  assert.equal(feed.states.at(-1)?.connected, true);
});

test('a wiped etcd (revision back to the start): full reload, old records disappear', async () => {
  const prefix = `/feed-wipe-${process.pid}`;
  const ds = createEtcdDataSource({ endpoints: [etcd.endpoint], prefix, logger: silentLogger, keepaliveMs: 1000, maxBackoffMs: 500 });
  try {
    await ds.open();
    for (let i = 0; i < 30; i++) await ds.put('tds', `old${i}`, { i });
    const events: FeedEvent[] = [];
    const model = new Set<string>();
    const subscription = ds.watch({
      onEvent(event) {
        events.push(event);
        if (event.type === 'snapshot') {
          model.clear();
          for (const r of event.records) model.add(r.id);
        } else {
          for (const c of event.changes) {
            if (c.type === 'put') model.add(c.id);
            else model.delete(c.id);
          }
        }
      },
    });
    await until('loaded', () => events.length === 1 && model.size === 30);
    const before = events[0]!.revision;
    await etcd.kill();
    rmSync(etcd.dataDir, { recursive: true, force: true });
    await etcd.start();
    await etcd.put(`${prefix}/tds/fresh`, '{"v":1}');
    await until('equal to the new store', () => model.size === 1 && model.has('fresh'), 10_000);
    const reload = events.filter((e) => e.type === 'snapshot').at(-1)!;
    assert.ok(events.filter((e) => e.type === 'snapshot').length >= 2, 'a full reload');
    assert.ok(reload.revision < before, 'from a store whose revision is behind the old one');
    await subscription.close();
  } finally {
    await ds.close();
  }
});
