import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger, type Logger } from '@dynmcp/plugin';
import { createFeedLoop, type FeedState } from './feed-loop.js';

test('turns never overlap; a kick mid-turn runs the next turn right after it, not after the pause', async () => {
  let running = 0;
  let overlapped = false;
  const started: number[] = [];
  let release: (() => void) | undefined;
  const loop = createFeedLoop({
    handlers: { onEvent() {} },
    onState() {},
    logger: silentLogger,
    async turn() {
      running += 1;
      overlapped ||= running > 1;
      started.push(Date.now());
      // The first turn waits until the test lets it go; the others end at once.
      if (started.length === 1) await new Promise<void>((resolve) => (release = resolve));
      running -= 1;
      return 60_000;
    },
  });
  while (release === undefined) await sleep(1);
  loop.kick();
  loop.kick();
  release();
  while (started.length < 2) await sleep(1);
  await sleep(20);
  assert.equal(started.length, 2, 'two kicks during one turn make one more turn');
  assert.equal(overlapped, false);
  loop.kick();
  while (started.length < 3) await sleep(1);
  const closing = Date.now();
  await loop.close();
  assert.ok(Date.now() - closing < 1000, 'close() cuts the 60 s pause short');
});

test('close() ends the waits a turn put under untilClosed and stops deliveries and reports', async () => {
  const states: FeedState[] = [];
  const delivered: number[] = [];
  let outcome: unknown = 'pending';
  const loop = createFeedLoop({
    handlers: { onEvent: (event) => delivered.push(event.revision) },
    onState: (state) => states.push(state),
    logger: silentLogger,
    async turn(turn) {
      turn.deliver({ type: 'snapshot', revision: 1, records: [] });
      turn.report({ connected: true });
      outcome = await turn.untilClosed(new Promise(() => {}));
      if (!turn.closed) turn.report({ connected: false, reason: 'not reached' });
      return 0;
    },
  });
  while (states.length === 0) await sleep(1);
  await loop.close();
  assert.equal(outcome, undefined);
  assert.deepEqual(delivered, [1]);
  assert.deepEqual(states, [{ connected: true }]);
});

test('a consumer or health handler that throws is logged or ignored, and the loop goes on', async () => {
  const errors: string[] = [];
  const logger: Logger = { ...silentLogger, error: (message) => errors.push(message), child: () => logger };
  let turns = 0;
  const loop = createFeedLoop({
    handlers: {
      onEvent() {
        throw new Error('consumer bug');
      },
    },
    onState() {
      throw new Error('health bug');
    },
    logger,
    async turn(turn) {
      turns += 1;
      turn.deliver({ type: 'changes', revision: turns, changes: [] });
      turn.report({ connected: true });
      return 1;
    },
  });
  while (turns < 3) await sleep(1);
  await loop.close();
  assert.ok(errors.length >= 2);
  assert.ok(errors.every((message) => message === 'feed consumer failed'));
});
