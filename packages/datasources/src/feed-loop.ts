import type { FeedEvent, FeedHandlers, FeedSubscription, Logger } from '@dynmcp/plugin';

/** State of one feed, for its datasource's health. */
export interface FeedState {
  connected: boolean;
  reason?: string;
}

/** What one turn of a {@link createFeedLoop} works with. */
export interface FeedLoopTurn {
  /** True once `close()` was called: the turn delivers and reports nothing more. */
  readonly closed: boolean;
  /** Resolves with `promise`'s outcome, or with `undefined` as soon as the feed closes. */
  untilClosed<T>(promise: Promise<T>): Promise<T | undefined>;
  /** Hands one event to the consumer; a consumer that throws is logged and the feed goes on. */
  deliver(event: FeedEvent): void;
  /** Tells the datasource the feed's state; a failing report never breaks the loop. */
  report(state: FeedState): void;
}

/** Options of {@link createFeedLoop}. */
export interface FeedLoopOptions {
  handlers: FeedHandlers;
  /** Every change of the feed's state (see {@link FeedLoopTurn.report}). */
  onState(state: FeedState): void;
  /**
   * One turn of the loop (a poll, a load-and-watch cycle); resolves with the pause before the next
   * turn in ms. Pauses are jittered by ±20% so replicas do not act in lockstep.
   */
  turn(loop: FeedLoopTurn): Promise<number>;
  logger: Logger;
}

/** A running feed; `kick()` asks for the next turn now (after a local write). */
export interface FeedLoop extends FeedSubscription {
  kick(): void;
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * The loop behind one `watch()` of a built-in datasource. One turn at a time: the next starts only
 * when the previous settled, so events are delivered in order and never concurrently. A kick during
 * a pause ends the pause; a kick during a turn becomes one more turn right after it. `close()` cuts
 * short the pause and every wait a turn put under {@link FeedLoopTurn.untilClosed}, then waits for
 * the running turn to end.
 */
export function createFeedLoop(options: FeedLoopOptions): FeedLoop {
  const { handlers, logger } = options;
  // Everything the loop waits on that close() must end: the pause, a turn's pending waits.
  const wakers = new Set<() => void>();
  let wakePause: (() => void) | undefined;
  let kicked = false;
  let closed = false;

  function untilClosed<T>(promise: Promise<T>): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const wake = () => resolve(undefined);
      wakers.add(wake);
      promise.then(
        (value) => {
          wakers.delete(wake);
          resolve(value);
        },
        (error: unknown) => {
          wakers.delete(wake);
          reject(error);
        },
      );
    });
  }

  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        wakePause = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms * (0.8 + Math.random() * 0.4));
      wakers.add(wake);
      wakePause = wake;
    });
  }

  const turn: FeedLoopTurn = {
    get closed() {
      return closed;
    },
    untilClosed,
    deliver(event) {
      try {
        handlers.onEvent(event);
      } catch (error) {
        // The consumer's bug; the feed itself is fine and moves on.
        logger.error('feed consumer failed', { error: errorMessage(error) });
      }
    },
    report(state) {
      try {
        options.onState(state);
      } catch {
        // Health reporting must not break the loop.
      }
    },
  };

  async function run(): Promise<void> {
    // The first turn starts on a later tick: the datasource registers the feed before any report.
    await Promise.resolve();
    while (!closed) {
      kicked = false;
      const pauseMs = await options.turn(turn);
      if (closed) return;
      if (!kicked) await pause(pauseMs);
    }
  }

  const running = run().catch((error: unknown) => {
    logger.error('feed stopped unexpectedly', { error: errorMessage(error) });
  });

  return {
    kick() {
      if (closed) return;
      kicked = true;
      wakePause?.();
    },
    async close() {
      closed = true;
      for (const wake of [...wakers]) wake();
      wakers.clear();
      await running;
    },
  };
}
