import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cancellation, cancellationOf } from './cancellation.js';

describe('Cancellation', () => {
  it('runs each listener once on abort, not those removed, and a late listener at once', () => {
    const cancellation = new Cancellation();
    const heard: string[] = [];
    cancellation.onAbort(() => heard.push('a'));
    const removeB = cancellation.onAbort(() => heard.push('b'));
    removeB();
    assert.equal(cancellation.aborted, false);
    cancellation.abort();
    cancellation.abort();
    assert.equal(cancellation.aborted, true);
    cancellation.onAbort(() => heard.push('late'));
    assert.deepEqual(heard, ['a', 'late']);
  });

  it('makes its signal on first use, aborted with it, or already aborted when made after', () => {
    const before = new Cancellation();
    const signal = before.signal;
    assert.equal(before.signal, signal);
    assert.equal(signal.aborted, false);
    before.abort();
    assert.equal(signal.aborted, true);
    const after = new Cancellation();
    after.abort();
    assert.equal(after.signal.aborted, true);
  });

  it('follows a signal of its own (the SDK route), already aborted or aborted later', () => {
    const controller = new AbortController();
    const following = Cancellation.of(controller.signal);
    let heard = 0;
    following.onAbort(() => (heard += 1));
    controller.abort();
    assert.equal(following.aborted, true);
    assert.equal(heard, 1);
    assert.equal(Cancellation.of(AbortSignal.abort()).aborted, true);
  });

  it("prefers a context's cancellation, else follows its signal", () => {
    const cancellation = new Cancellation();
    assert.equal(cancellationOf({ signal: new AbortController().signal, cancellation }), cancellation);
    const controller = new AbortController();
    const derived = cancellationOf({ signal: controller.signal });
    controller.abort();
    assert.equal(derived.aborted, true);
  });
});
