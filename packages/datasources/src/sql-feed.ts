import type { FeedEvent, FeedHandlers, Logger } from '@dynmcp/plugin';
import { createFeedLoop, type FeedLoop, type FeedLoopTurn, type FeedState } from './feed-loop.js';

/** What a {@link createSqlFeed} loop needs from its datasource. */
export interface SqlFeedOptions {
  handlers: FeedHandlers;
  /** Pause between polls; each pause is jittered by ±20% so replicas do not poll in lockstep. */
  intervalMs: number;
  /** One poll: a snapshot when `cursor` is `undefined` or unusable, else changes; `undefined` when nothing is new. */
  poll(cursor: number | undefined): Promise<FeedEvent | undefined>;
  /** The reason a poll failed, for health. */
  describeError(error: unknown): string;
  /** The state after every poll. */
  onState(state: FeedState): void;
  logger: Logger;
}

/**
 * The poll loop of one `watch()`: a poll, then a pause, or the next poll at once after a local
 * write (`kick()`). The cursor lives in memory only: per-replica progress is never written to
 * shared rows.
 */
export function createSqlFeed(options: SqlFeedOptions): FeedLoop {
  const { handlers, intervalMs, logger } = options;
  let cursor: number | undefined;

  // Never rejects: every failure is reported as the feed's state, so the loop keeps going.
  async function pollOnce(loop: FeedLoopTurn): Promise<void> {
    let event: FeedEvent | undefined;
    try {
      event = await options.poll(cursor);
    } catch (error) {
      if (!loop.closed) loop.report({ connected: false, reason: options.describeError(error) });
      return;
    }
    if (loop.closed) return;
    loop.report({ connected: true });
    if (event === undefined) return;
    cursor = event.revision;
    loop.deliver(event);
  }

  return createFeedLoop({
    handlers,
    logger,
    onState: options.onState,
    async turn(loop) {
      await pollOnce(loop);
      return intervalMs;
    },
  });
}
