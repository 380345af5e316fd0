import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createFailureLimiter } from './failure-limiter.js';

test('blocks an address after maxFailures within the window, until the oldest failure leaves it', () => {
  let now = 1_000;
  const limiter = createFailureLimiter({ maxFailures: 3, windowMs: 10_000, now: () => now });
  for (let i = 0; i < 3; i += 1) {
    assert.equal(limiter.blockedFor('a'), 0);
    limiter.fail('a');
    now += 1_000;
  }
  assert.equal(limiter.blockedFor('a'), 7_000, 'the first failure (t=1000) leaves the window at t=11000');
  assert.equal(limiter.blockedFor('b'), 0, 'other addresses are not affected');
  now = 11_001;
  assert.equal(limiter.blockedFor('a'), 0);
});

test('0 disables it', () => {
  const limiter = createFailureLimiter({ maxFailures: 0, windowMs: 1_000 });
  for (let i = 0; i < 100; i += 1) limiter.fail('a');
  assert.equal(limiter.blockedFor('a'), 0);
});
