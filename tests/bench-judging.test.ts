/**
 * The benchmark's judging: which window a row keeps, how open-loop windows are pooled, and which
 * figures each target divides. A wrong rule here would turn a good run into a bad verdict, or the
 * other way round, and only a full run (minutes) would show it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

type Window = { perCpuSecond: number; cpuShare: number; rps: number };
type OpenWindow = { samples: Float64Array; requests: number; cpuSeconds: number; seconds: number; errors: number; errorSamples: string[]; latencyMs: { p50: number; p99: number }; noise: number; connections: number; targetRps: number };
type Target = { target: string; measured: string; ratio: number | null; shown: string; status: string };

// The bench is plain JavaScript (ES modules without declarations): imported by path.
const throughputModule = '../bench/scenarios/throughput.mjs';
const reportModule = '../bench/lib/report.mjs';
const { fastestWindow, pooledWindows } = (await import(throughputModule)) as {
  fastestWindow(windows: Window[]): Window & { rounds: number[]; median: number; medianRps: number };
  pooledWindows(windows: OpenWindow[]): { requests: number; latencyMs: { p50: number; p99: number }; rounds: number[]; rps: number; perCpuSecond: number };
};
const { judgeTargets, unsteadyMachine } = (await import(reportModule)) as {
  judgeTargets(results: unknown): Target[];
  unsteadyMachine(results: unknown): string | undefined;
};

const window = (perCpuSecond: number, cpuShare = 0.95): Window => ({ perCpuSecond, cpuShare, rps: perCpuSecond * cpuShare });

describe('fastestWindow', () => {
  it('keeps the fastest window in which the server kept at least 85% of its core busy, and lists every round', () => {
    const kept = fastestWindow([window(9000), window(12000, 0.6), window(10000), window(9500, 0.86)]);
    assert.equal(kept.perCpuSecond, 10000, 'the 12000 window had the server 60% busy: the load side was the limit');
    assert.deepEqual(kept.rounds, [9000, 12000, 10000, 9500]);
    // The lower median of an even count.
    assert.equal(kept.median, 9500);
    assert.equal(kept.medianRps, 9500 * 0.86);
  });

  it('falls back to the fastest of all windows when none was saturated', () => {
    assert.equal(fastestWindow([window(3000, 0.5), window(4000, 0.4)]).perCpuSecond, 4000);
  });
});

describe('pooledWindows', () => {
  const open = (latencies: number[]): OpenWindow => {
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      samples: Float64Array.from(latencies),
      requests: latencies.length,
      cpuSeconds: 0.5,
      seconds: 1,
      errors: 0,
      errorSamples: [],
      latencyMs: { p50: sorted[Math.floor(sorted.length / 2)]!, p99: sorted[Math.floor(sorted.length * 0.99)]! },
      noise: 0,
      connections: 50,
      targetRps: 100,
    };
  };

  it('takes the p99 of every answer of every window, not a typical window', () => {
    const calm = open(Array.from({ length: 100 }, () => 1));
    const stalled = open([...Array.from({ length: 96 }, () => 1), 40, 40, 40, 40]);
    const pooled = pooledWindows([calm, calm, stalled]);
    assert.equal(pooled.requests, 300);
    assert.equal(pooled.latencyMs.p50, 1);
    // 4 slow answers of 300 are more than 1%: the pooled p99 is slow, though two windows of three were calm.
    assert.equal(pooled.latencyMs.p99, 40);
    assert.deepEqual(pooled.rounds, [1, 1, 40]);
    assert.equal(pooled.rps, 100);
    assert.equal(pooled.perCpuSecond, 200);
  });
});

describe('judgeTargets', () => {
  const c50 = (perCpuSecond: number, median = perCpuSecond) => ({ c50: { perCpuSecond, median } });
  const openFigure = (p50: number, p99: number) => ({ open: { latencyMs: { p50, p99 }, rps: 7000 } });
  const results = (figures: Record<string, unknown>, unavailable: Record<string, string> = {}) => ({
    sections: { throughput: { figures, unavailable } },
  });
  const find = (targets: Target[], prefix: string) => {
    const found = targets.find((t) => t.target.startsWith(prefix));
    assert.ok(found, `a target starting "${prefix}"`);
    return found;
  };

  it('divides each tools/call row by RAW_PROXY with its own floor', () => {
    const targets = judgeTargets(
      results({
        RAW_PROXY: c50(20000),
        'GW tools/call 2026': c50(10200),
        'GW tools/call 2025 session': c50(9800),
        'GW tools/call 2025 stateless': c50(7200),
      }),
    );
    assert.equal(find(targets, 'tools/call 2026 stateless').status, 'met');
    assert.equal(find(targets, 'tools/call 2025 session ').status, 'NOT MET');
    assert.equal(find(targets, 'tools/call 2025 session ').ratio, 0.49);
    assert.equal(find(targets, 'tools/call 2025 session-less').status, 'met', '0.36× against a floor of 0.35×');
  });

  it("judges the metrics' cost on the warn-level gateways with and without metrics, not on the main gateway", () => {
    const figures = {
      'GW tools/call 2026': c50(5000),
      'GW tools/call 2026 (log warn)': c50(9700),
      'GW tools/call 2026 (log info)': c50(9500),
      'GW tools/call 2026 (metrics off)': c50(10000),
    };
    const metrics = find(judgeTargets(results(figures)), 'metrics cost');
    assert.equal(metrics.status, 'met');
    assert.ok(Math.abs(metrics.ratio! - 0.03) < 1e-9, `cost ${metrics.ratio}`);
    assert.match(metrics.measured, /^10000 off vs 9700 on req\/CPU-s \(log level warn\)/);
    const logging = find(judgeTargets(results(figures)), 'info-level logging cost');
    assert.ok(Math.abs(logging.ratio! - 200 / 9700) < 1e-9);
    assert.equal(logging.status, 'met');
  });

  it("says why the metrics' cost was not measured on a build without the setting", () => {
    const metrics = find(
      judgeTargets(results({ 'GW tools/call 2026 (log warn)': c50(9700) }, { 'GW tools/call 2026 (metrics off)': 'this build has no DYNMCP_METRICS_ENABLED setting' })),
      'metrics cost',
    );
    assert.equal(metrics.status, 'n/a');
    assert.match(metrics.measured, /not available: this build has no DYNMCP_METRICS_ENABLED setting/);
  });

  it("judges the tail on the gateway's pooled open loop and shows RAW_PROXY's beside it", () => {
    const tail = find(
      judgeTargets(results({ 'GW tools/call 2026 @70%': openFigure(2, 9), 'RAW_PROXY @70%': openFigure(2, 30) })),
      'p99 ≤ 5× p50',
    );
    assert.equal(tail.ratio, 4.5);
    assert.equal(tail.status, 'met');
    assert.match(tail.measured, /RAW_PROXY at 70% of its peak in the same rounds: 15\.000×/);
    const slow = find(judgeTargets(results({ 'GW tools/call 2026 @70%': openFigure(2, 11) })), 'p99 ≤ 5× p50');
    assert.equal(slow.status, 'NOT MET');
  });

  it('reports a target whose figures are missing as not measured, never as met', () => {
    const targets = judgeTargets(results({}));
    for (const prefix of ['tools/call 2026 stateless', 'metrics cost', 'p99 ≤ 5× p50', 'tools/call 2026 ≥ 3× PEER']) {
      assert.equal(find(targets, prefix).status, 'n/a', prefix);
    }
  });
});

describe('unsteadyMachine', () => {
  const withRaw = (rounds: number[]) => ({ sections: { throughput: { figures: { RAW_PROXY: { c50: { rounds } } } } } });

  it("warns when RAW_PROXY's own windows lie more than 1.3x apart, naming the range", () => {
    const warning = unsteadyMachine(withRaw([11228, 12612, 9378, 17284, 15850]));
    assert.ok(warning);
    assert.match(warning, /ranged from 9378 to 17284 req\/CPU-s \(1\.84× apart/);
  });

  it('stays quiet on a steady run, and without enough windows to tell', () => {
    assert.equal(unsteadyMachine(withRaw([19414, 19222, 18385, 19563])), undefined);
    assert.equal(unsteadyMachine(withRaw([9000, 18000])), undefined);
    assert.equal(unsteadyMachine({ sections: {} }), undefined);
  });
});
