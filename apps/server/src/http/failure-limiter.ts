/**
 * Counts failed authentications per client address in a sliding window, so that guessing admin
 * keys is slow (research/reliability.md §3.9). In memory, per replica: a gateway behind a load
 * balancer limits each replica separately.
 */
export interface FailureLimiter {
  /** Milliseconds until `client` may try again, or 0 when it is not blocked. */
  blockedFor(client: string): number;
  /** Records one failure of `client`. */
  fail(client: string): void;
}

/** Options of {@link createFailureLimiter}. */
export interface FailureLimiterOptions {
  /** Failures allowed within `windowMs`; 0 disables the limiter. */
  maxFailures: number;
  windowMs: number;
  now?: () => number;
}

/** Creates a {@link FailureLimiter}; it holds at most 10,000 addresses (oldest dropped first). */
export function createFailureLimiter(options: FailureLimiterOptions): FailureLimiter {
  const now = options.now ?? Date.now;
  const failures = new Map<string, number[]>();
  const recent = (client: string) => {
    const limit = now() - options.windowMs;
    const times = (failures.get(client) ?? []).filter((at) => at > limit);
    if (times.length === 0) failures.delete(client);
    else failures.set(client, times);
    return times;
  };
  return {
    blockedFor(client) {
      if (options.maxFailures === 0) return 0;
      const times = recent(client);
      if (times.length < options.maxFailures) return 0;
      return Math.max(1, (times[times.length - options.maxFailures] as number) + options.windowMs - now());
    },
    fail(client) {
      if (options.maxFailures === 0) return;
      const times = recent(client);
      times.push(now());
      failures.delete(client);
      failures.set(client, times.slice(-options.maxFailures));
      if (failures.size > 10_000) failures.delete(failures.keys().next().value as string);
    },
  };
}
