import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildInstanceView, compileToolDefinition, createSchemaCompiler, toolListing, type InstanceView, type LiveTool } from '@dynmcp/common';
import { silentLogger } from '@dynmcp/plugin';
import { createCallLimiter, type Admission, type CallLease } from './call-limits.js';

const compiler = createSchemaCompiler();

function tool(id: string, limits?: Record<string, number>): LiveTool {
  const compiled = compileToolDefinition(
    {
      id,
      name: id,
      input_schema: { type: 'object' },
      tds_ext_info: { domain: 'api.example.com', method: 'GET', path: `/${id}`, ...(limits && { ext_info: { limits } }) },
    },
    compiler,
  );
  return { ...compiled, revision: 1, listing: toolListing(compiled.definition) };
}

function instance(id: string, tools: LiveTool[], limits?: Record<string, number>): InstanceView {
  const byId = new Map(tools.map((entry) => [entry.definition.id, entry]));
  return buildInstanceView({ id, name: id, tool_ids: [...byId.keys()], ...(limits && { limits }) } as never, 'streamable-stateless', byId, silentLogger);
}

const OFF = { ratePerMinute: 0, concurrency: 0 };

function clock(start = 1_000_000) {
  const state = { t: start };
  return { now: () => state.t, advance: (ms: number) => void (state.t += ms) };
}

function lease(admission: Admission): CallLease {
  assert.equal(admission.admitted, true, admission.admitted ? '' : admission.message);
  assert.ok(admission.admitted && admission.lease !== undefined);
  return admission.lease;
}

function refused(admission: Admission): { message: string; retryAfterSeconds: number } {
  assert.equal(admission.admitted, false, 'refused');
  return admission as { message: string; retryAfterSeconds: number };
}

describe('createCallLimiter', () => {
  it('admits everything, holding nothing, when no limit applies', () => {
    const limiter = createCallLimiter({ principal: OFF });
    const view = instance('shop', [tool('search')]);
    for (let i = 0; i < 1000; i += 1) assert.deepEqual(limiter.admit('a', view, ['search']), { admitted: true, lease: undefined });
    assert.equal(limiter.size(), 0);
  });

  it('limits each caller to its own rate: one at its limit does not slow another', () => {
    const time = clock();
    const limiter = createCallLimiter({ principal: { ratePerMinute: 3, concurrency: 0 }, now: time.now });
    const view = instance('shop', [tool('search')]);
    for (let i = 0; i < 3; i += 1) lease(limiter.admit('team-a', view, ['search'])).end();
    const over = refused(limiter.admit('team-a', view, ['search']));
    assert.equal(over.message, 'Too many calls: caller "team-a" allows 3 calls per minute; retry in 20 s');
    assert.equal(over.retryAfterSeconds, 20);
    lease(limiter.admit('team-b', view, ['search'])).end();
    // The bucket refills continuously: one call's worth after a third of a minute.
    time.advance(19_000);
    refused(limiter.admit('team-a', view, ['search']));
    time.advance(1_000);
    lease(limiter.admit('team-a', view, ['search'])).end();
  });

  it('limits calls at once; a lease holds its units until each call ends and the response closed', () => {
    const limiter = createCallLimiter({ principal: { ratePerMinute: 0, concurrency: 2 } });
    const view = instance('shop', [tool('search')]);
    const first = lease(limiter.admit('a', view, ['search']));
    const second = lease(limiter.admit('a', view, ['search']));
    const over = refused(limiter.admit('a', view, ['search']));
    assert.equal(over.message, 'Too many calls: caller "a" allows 2 calls at once; retry when one of them ends');
    assert.equal(over.retryAfterSeconds, 1);

    // The first call runs past its response (a 2025 client that dropped the stream): still counted.
    const release = first.claim('search');
    first.end();
    refused(limiter.admit('a', view, ['search']));
    release();
    release(); // idempotent
    const third = lease(limiter.admit('a', view, ['search']));
    // A request whose call never ran (refused before the executor) gives its unit back on close.
    second.end();
    third.end();
    lease(limiter.admit('a', view, ['search']));
    lease(limiter.admit('a', view, ['search']));
  });

  it('applies instance limits to every caller together, and tool limits across instances', () => {
    const time = clock();
    const limiter = createCallLimiter({ principal: OFF, now: time.now });
    const search = tool('search', { concurrency: 1 });
    const shop = instance('shop', [search, tool('other')], { rate_per_minute: 2 });
    const store = instance('store', [search]);
    lease(limiter.admit('a', shop, ['other'])).end();
    lease(limiter.admit('b', shop, ['other'])).end();
    assert.equal(refused(limiter.admit('c', shop, ['other'])).message, 'Too many calls: instance "shop" allows 2 calls per minute; retry in 30 s');

    const running = lease(limiter.admit('a', store, ['search']));
    const release = running.claim('search');
    const viaOther = refused(limiter.admit('b', store, ['search']));
    assert.equal(viaOther.message, 'Too many calls: tool "search" allows 1 call at once; retry when one of them ends');
    release();
    running.end();
    lease(limiter.admit('b', store, ['search'])).end();
  });

  it('counts every call of a batch, all or nothing, and says when a batch can never fit', () => {
    const limiter = createCallLimiter({ principal: { ratePerMinute: 5, concurrency: 0 } });
    const view = instance('shop', [tool('search', { concurrency: 2 })]);
    lease(limiter.admit('a', view, ['search', 'nope'])).end();
    const tooWide = refused(limiter.admit('a', view, ['search', 'search', 'search']));
    assert.match(tooWide.message, /tool "search" allows 2 calls at once \(this request holds 3 calls\); send fewer calls per request/);
    // Nothing was taken by the refused batch: three of five tokens are left.
    lease(limiter.admit('a', view, ['nope', 'nope', 'nope'])).end();
    refused(limiter.admit('a', view, ['nope']));
    const huge = refused(createCallLimiter({ principal: { ratePerMinute: 2, concurrency: 0 } }).admit('a', view, ['x', 'y', 'z']));
    assert.match(huge.message, /allows 2 calls per minute \(this request holds 3 calls\); send fewer calls per request/);
    assert.equal(huge.retryAfterSeconds, 60);
  });

  it('claims tool units only for calls of that tool', () => {
    const limiter = createCallLimiter({ principal: OFF });
    const view = instance('shop', [tool('search', { concurrency: 1 }), tool('other', { concurrency: 1 })]);
    const both = lease(limiter.admit('a', view, ['search', 'other']));
    const search = both.claim('search');
    const other = both.claim('other');
    both.end();
    search();
    lease(limiter.admit('a', view, ['search']));
    refused(limiter.admit('a', view, ['other']));
    other();
    lease(limiter.admit('a', view, ['other']));
  });

  it('keeps memory bounded: idle counters go after a minute, and never more than maxCounters', () => {
    const time = clock();
    const limiter = createCallLimiter({ principal: { ratePerMinute: 10, concurrency: 5 }, maxCounters: 100, now: time.now });
    const view = instance('shop', [tool('search')]);
    const held = lease(limiter.admit('busy', view, ['search']));
    held.claim('search');
    for (let i = 0; i < 1000; i += 1) lease(limiter.admit(`anonymous@10.0.${i >> 8}.${i & 255}`, view, ['search'])).end();
    assert.ok(limiter.size() <= 100, `at most 100 counters (${limiter.size()})`);
    time.advance(60_000);
    limiter.admit('late', view, ['search']);
    // Only the counter in use and the new one are left; the busy caller is still counted.
    assert.equal(limiter.size(), 2);
    for (let i = 0; i < 4; i += 1) lease(limiter.admit('busy', view, ['search']));
    refused(limiter.admit('busy', view, ['search']));
  });
});
