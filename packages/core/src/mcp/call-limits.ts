import type { InstanceView, LiveTool } from '@dynmcp/common';
import type { CallLimits } from '@dynmcp/plugin';

/** The per-caller limits of the configuration (`limits.principal.*`); 0 turns one off. */
export interface PrincipalLimits {
  ratePerMinute: number;
  concurrency: number;
}

/**
 * The concurrency units one admitted request holds. Each call claims one when it starts and gives
 * it back when it ends; whatever was never claimed (a call refused before it ran, an unknown tool)
 * goes back when the request's response closes. A call ending after its response closed (a
 * 2025-era client that dropped the stream, which is not a cancellation) so still counts while it runs.
 */
export interface CallLease {
  /** Takes one unit for a call of `toolId`; returns its release (idempotent). */
  claim(toolId: string): () => void;
  /** The response closed: units no call claimed go back. */
  end(): void;
}

/** The outcome of {@link CallLimiter.admit}. */
export type Admission =
  | { admitted: true; lease: CallLease | undefined }
  | { admitted: false; message: string; retryAfterSeconds: number };

/** Rate and concurrency limits of `tools/call`, per caller, per instance and per tool. */
export interface CallLimiter {
  /**
   * Admits the `tools/call` messages of one HTTP request (several in a 2025-03-26 batch) as a whole,
   * or refuses them all and says which limit and when to retry. Admitting takes the rate tokens at
   * once and reserves the concurrency units in the returned lease.
   */
  admit(owner: string, view: InstanceView, toolNames: readonly unknown[]): Admission;
  /** Counters held (bounded by `maxCounters`). */
  size(): number;
}

/** Options of {@link createCallLimiter}. */
export interface CallLimiterOptions {
  principal: PrincipalLimits;
  /** Most counters kept; idle ones are dropped first. Default 100 000 (about 10 MB). */
  maxCounters?: number;
  now?: () => number;
}

interface Counter {
  tokens: number;
  /** When `tokens` was last brought up to date, and when the counter was last used. */
  at: number;
  inflight: number;
}

interface Scope {
  key: string;
  label: string;
  rate: number;
  concurrency: number;
  /** Calls of this request that count against the scope. */
  demand: number;
  /** Set for a tool's scope: only calls of that tool claim from it. */
  toolId: string | undefined;
}

const MINUTE = 60_000;
const FREE: Admission = { admitted: true, lease: undefined };

const calls = (n: number) => `${n} call${n === 1 ? '' : 's'}`;
const positive = (value: unknown): number => (typeof value === 'number' && value > 0 ? value : 0);

function limitsIn(value: unknown): { rate: number; concurrency: number } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const limits = value as CallLimits;
  const rate = positive(limits.rate_per_minute);
  const concurrency = positive(limits.concurrency);
  return rate > 0 || concurrency > 0 ? { rate, concurrency } : undefined;
}

/** The `limits` of an instance definition, if it sets any. */
export const instanceLimits = (view: InstanceView) => limitsIn(view.definition.limits);

/** The `limits` in a tool's `tds_ext_info.ext_info`, if it sets any (every tool kind has them). */
export const toolLimits = (tool: Pick<LiveTool, 'definition'>) =>
  limitsIn((tool.definition.tds_ext_info?.ext_info as { limits?: unknown } | undefined)?.limits);

/**
 * Creates the limiter. Each scope (caller, instance, tool) has one counter: a token bucket whose
 * capacity is the rate per minute and which refills continuously, and the number of calls in
 * flight. Counters idle for a minute are full again and are dropped, so memory follows the callers
 * of the last minute, and never passes `maxCounters`.
 */
export function createCallLimiter(options: CallLimiterOptions): CallLimiter {
  const now = options.now ?? Date.now;
  const maxCounters = options.maxCounters ?? 100_000;
  const principal = options.principal;
  const counters = new Map<string, Counter>();
  let lastPrune = now();

  function prune(t: number) {
    lastPrune = t;
    for (const [key, counter] of counters) if (counter.inflight === 0 && t - counter.at >= MINUTE) counters.delete(key);
  }

  function counterOf(key: string, rate: number, t: number): Counter {
    let counter = counters.get(key);
    if (counter === undefined) {
      if (counters.size >= maxCounters) {
        prune(t);
        // Still full (many callers within a minute): forget the oldest idle counters. That forgives
        // them part of a minute's rate; memory stays bounded, and nothing in flight is forgotten.
        for (const [oldKey, old] of counters) {
          if (counters.size < maxCounters) break;
          if (old.inflight === 0) counters.delete(oldKey);
        }
      }
      counter = { tokens: rate, at: t, inflight: 0 };
      counters.set(key, counter);
      return counter;
    }
    if (rate > 0) counter.tokens = Math.min(rate, counter.tokens + ((t - counter.at) * rate) / MINUTE);
    counter.at = t;
    return counter;
  }

  function refuse(scope: Scope, counter: Counter): Admission | undefined {
    const batch = scope.demand > 1 ? ` (this request holds ${calls(scope.demand)})` : '';
    if (scope.rate > 0 && counter.tokens < scope.demand) {
      const limit = `${scope.label} allows ${calls(scope.rate)} per minute${batch}`;
      if (scope.demand > scope.rate) {
        return { admitted: false, message: `Too many calls: ${limit}; send fewer calls per request`, retryAfterSeconds: 60 };
      }
      const waitMs = ((scope.demand - counter.tokens) * MINUTE) / scope.rate;
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      return { admitted: false, message: `Too many calls: ${limit}; retry in ${seconds} s`, retryAfterSeconds: seconds };
    }
    if (scope.concurrency > 0 && counter.inflight + scope.demand > scope.concurrency) {
      const limit = `${scope.label} allows ${calls(scope.concurrency)} at once${batch}`;
      const advice = scope.demand > scope.concurrency ? 'send fewer calls per request' : 'retry when one of them ends';
      return { admitted: false, message: `Too many calls: ${limit}; ${advice}`, retryAfterSeconds: 1 };
    }
    return undefined;
  }

  function scopesOf(owner: string, view: InstanceView, toolNames: readonly unknown[]): Scope[] {
    const scopes: Scope[] = [];
    const demand = toolNames.length;
    if (principal.ratePerMinute > 0 || principal.concurrency > 0) {
      const { ratePerMinute: rate, concurrency } = principal;
      scopes.push({ key: `p:${owner}`, label: `caller "${owner}"`, rate, concurrency, demand, toolId: undefined });
    }
    const ofInstance = instanceLimits(view);
    if (ofInstance !== undefined) {
      scopes.push({ key: `i:${view.id}`, label: `instance "${view.id}"`, ...ofInstance, demand, toolId: undefined });
    }
    for (const name of toolNames) {
      const tool = typeof name === 'string' ? view.toolsByName.get(name) : undefined;
      const ofTool = tool === undefined ? undefined : toolLimits(tool);
      if (tool === undefined || ofTool === undefined) continue;
      // A tool's limit protects its upstream: it counts calls from every instance that lists it.
      const toolId = tool.definition.id;
      const key = `t:${toolId}`;
      const seen = scopes.find((scope) => scope.key === key);
      if (seen !== undefined) seen.demand += 1;
      else scopes.push({ key, label: `tool "${tool.name}"`, ...ofTool, demand: 1, toolId });
    }
    return scopes;
  }

  return {
    admit(owner, view, toolNames) {
      const scopes = scopesOf(owner, view, toolNames);
      if (scopes.length === 0) return FREE;
      const t = now();
      if (t - lastPrune >= MINUTE) prune(t);
      const held: Counter[] = [];
      // All or nothing: check every scope, then take from every scope.
      for (const scope of scopes) {
        const counter = counterOf(scope.key, scope.rate, t);
        const refusal = refuse(scope, counter);
        if (refusal !== undefined) return refusal;
        held.push(counter);
      }
      const reserved = scopes.map((scope, index) => {
        const counter = held[index] as Counter;
        if (scope.rate > 0) counter.tokens -= scope.demand;
        counter.inflight += scope.demand;
        return { counter, toolId: scope.toolId, units: scope.demand };
      });
      return { admitted: true, lease: createLease(reserved) };
    },
    size: () => counters.size,
  };
}

function createLease(reserved: Array<{ counter: Counter; toolId: string | undefined; units: number }>): CallLease {
  return {
    claim(toolId) {
      const taken: Counter[] = [];
      for (const entry of reserved) {
        if (entry.toolId !== undefined && entry.toolId !== toolId) continue;
        // More calls than admitted (cannot happen through the gateway): count them all the same.
        if (entry.units > 0) entry.units -= 1;
        else entry.counter.inflight += 1;
        taken.push(entry.counter);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        for (const counter of taken) counter.inflight -= 1;
      };
    },
    end() {
      for (const entry of reserved) {
        entry.counter.inflight -= entry.units;
        entry.units = 0;
      }
    },
  };
}
