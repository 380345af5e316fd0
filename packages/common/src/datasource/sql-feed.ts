import type { FeedEvent, FeedHandlers, FeedSubscription, Logger } from '@dynmcp/plugin';

/** What a {@link createSqlFeed} loop needs from its datasource. */
export interface SqlFeedOptions {
  handlers: FeedHandlers;
  /** Pause between polls; each pause is jittered by ±20% so replicas do not poll in lockstep. */
  intervalMs: number;
  /** One poll: a snapshot when `cursor` is `undefined` or unusable, else changes; `undefined` when nothing is new. */
  poll(cursor: number | undefined): Promise<FeedEvent | undefined>;
  /** The outcome of every poll (`undefined` on success), for health. */
  onPollResult(error: unknown): void;
  logger: Logger;
}

/** A running poll loop; `kick()` asks for a poll now (after a local write). */
export interface SqlFeed extends FeedSubscription {
  kick(): void;
}

/**
 * The poll loop of one `watch()`. One poll at a time: the next is scheduled only when the previous
 * settled, and a kick that arrives mid-poll becomes one more poll right after it, so events are
 * delivered in order and never concurrently. The cursor lives in memory only: per-replica progress
 * is never written to shared rows (research/reliability.md §2.1).
 */
export function createSqlFeed(options: SqlFeedOptions): SqlFeed {
  const { handlers, intervalMs, logger } = options;
  let cursor: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let kickedDuringPoll = false;
  let closed = false;

  function schedule(delayMs: number): void {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(start, delayMs);
  }

  function start(): void {
    timer = undefined;
    if (closed) return;
    if (inFlight !== undefined) {
      kickedDuringPoll = true;
      return;
    }
    inFlight = pollOnce().finally(() => {
      inFlight = undefined;
      const delayMs = kickedDuringPoll ? 0 : intervalMs * (0.8 + Math.random() * 0.4);
      kickedDuringPoll = false;
      schedule(delayMs);
    });
  }

  // Never rejects: every failure is reported through onPollResult, so the loop keeps going.
  async function pollOnce(): Promise<void> {
    let event: FeedEvent | undefined;
    try {
      event = await options.poll(cursor);
    } catch (error) {
      if (!closed) report(error);
      return;
    }
    if (closed) return;
    report(undefined);
    if (event === undefined) return;
    cursor = event.revision;
    try {
      handlers.onEvent(event);
    } catch (error) {
      // The consumer's bug; the feed itself is fine and moves on.
      logger.error('feed consumer failed', { error: error instanceof Error ? error.message : String(error) });
    }
  }

  function report(error: unknown): void {
    try {
      options.onPollResult(error);
    } catch {
      // Health reporting must not break the loop.
    }
  }

  schedule(0);

  return {
    kick() {
      if (closed) return;
      if (inFlight !== undefined) kickedDuringPoll = true;
      else schedule(0);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },
  };
}
