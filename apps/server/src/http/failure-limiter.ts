/**
 * Counts failed authentications per client address in a sliding window, so that guessing keys is
 * slow. One limiter serves every door (`/mcp` and `/admin`): admin keys open both, so failures on
 * either count together. In memory, per replica: a gateway behind a load balancer limits each
 * replica separately.
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

/** Whole seconds of a wait, as `Retry-After` wants them (never 0: the caller is blocked). */
export const retryAfterSeconds = (waitMs: number) => Math.max(1, Math.ceil(waitMs / 1000));

/** The one message of a blocked address, on every door, so the doors answer alike. */
export const tooManyFailuresMessage = (retryAfter: number) =>
  `too many failed authentications from this address; retry in ${retryAfter} s`;

/** Creates a {@link FailureLimiter}; it holds at most 10,000 addresses (oldest dropped first). */
export function createFailureLimiter(options: FailureLimiterOptions): FailureLimiter {
  const now = options.now ?? Date.now;
  const failures = new Map<string, number[]>();
  const recent = (client: string, times: number[]) => {
    const limit = now() - options.windowMs;
    const kept = times.filter((at) => at > limit);
    if (kept.length === 0) failures.delete(client);
    else failures.set(client, kept);
    return kept;
  };
  return {
    blockedFor(client) {
      // Called on every authenticated /mcp request: an address without failures costs one lookup.
      const times = failures.get(client);
      if (times === undefined || options.maxFailures === 0) return 0;
      const kept = recent(client, times);
      if (kept.length < options.maxFailures) return 0;
      return Math.max(1, (kept[kept.length - options.maxFailures] as number) + options.windowMs - now());
    },
    fail(client) {
      if (options.maxFailures === 0) return;
      const times = recent(client, failures.get(client) ?? []);
      times.push(now());
      failures.delete(client);
      failures.set(client, times.slice(-options.maxFailures));
      if (failures.size > 10_000) failures.delete(failures.keys().next().value as string);
    },
  };
}
