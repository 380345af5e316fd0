import { CALL_OUTCOMES, type CallOutcome, type ToolCallMetrics } from '@dynmcp/core';

/** Upper bounds (seconds) of the call duration histogram: a cached answer to a slow report. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The `status_class` values of upstream answers; `none` when no upstream answered. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;
const NONE = STATUS_CLASSES.length - 1;

const increment = (cells: Float64Array, index: number) => {
  cells[index] = (cells[index] as number) + 1;
};

const OUTCOME_INDEX = Object.fromEntries(CALL_OUTCOMES.map((outcome, index) => [outcome, index])) as Record<CallOutcome, number>;

/**
 * The counts of one tool served by one instance, kept in plain arrays: a call adds to a few
 * numbers and touches no label, no string and no map; prom-client reads them at scrape time
 * (`gateway-metrics.ts`). `dropped` is set when the tool left the instance; a later call through
 * a cached reference asks `revive` to take it back if the tool is served again.
 */
export class ToolCells implements ToolCallMetrics {
  readonly outcomes = new Float64Array(CALL_OUTCOMES.length);
  readonly statuses = new Float64Array(STATUS_CLASSES.length);
  /** Calls per duration bucket, not cumulative; calls above the last bound count only in `count`. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length);
  sum = 0;
  count = 0;
  dropped = false;

  constructor(
    readonly instance: string,
    readonly tool: string,
    private readonly revive: (cells: ToolCells) => void,
  ) {}

  called(outcome: CallOutcome, seconds: number, upstreamStatus: number | undefined): void {
    if (this.dropped) this.revive(this);
    increment(this.outcomes, OUTCOME_INDEX[outcome]);
    this.sum += seconds;
    this.count += 1;
    for (let index = 0; index < DURATION_BUCKETS.length; index += 1) {
      if (seconds <= (DURATION_BUCKETS[index] as number)) {
        increment(this.buckets, index);
        break;
      }
    }
    // Refused before the executor ran: no upstream was asked, so no upstream answer to count.
    if (outcome === 'invalid_arguments' || outcome === 'no_executor') return;
    const index = upstreamStatus === undefined || upstreamStatus < 100 || upstreamStatus > 599 ? NONE : Math.floor(upstreamStatus / 100) - 1;
    increment(this.statuses, index);
  }
}
