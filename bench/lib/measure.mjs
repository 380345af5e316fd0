// One measured figure: load against a server process while reading that process's CPU time at
// the edges of the measured window, plus how busy the machine was with processes that are not
// part of the bench (other people's builds and tests share these cores).
import { readFileSync } from 'node:fs';
import { runLoad } from './loadgen.mjs';
import { CLK_TCK, cpuSeconds } from './proc.mjs';

/** Busy jiffies per CPU line of /proc/stat ("cpu", "cpu0", "cpu1"…). */
function busyJiffies() {
  const out = {};
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    if (!line.startsWith('cpu')) break;
    const [name, user, nice, system, , , irq, softirq, steal] = line.split(/\s+/);
    out[name] = Number(user) + Number(nice) + Number(system) + Number(irq) + Number(softirq) + Number(steal);
  }
  return out;
}

/** CPU seconds of `pids` together; a process that exited counts nothing. */
function cpuOf(pids) {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid);
    } catch {
      // a helper that exited
    }
  }
  return sum;
}

/**
 * Samples what a window needs at one edge: the target's CPU seconds (every process of its group
 * when it has `pids()`, e.g. a cluster primary and its workers), the bench's own processes' CPU
 * seconds (`ours`: pids), and the machine's busy time.
 */
function sample(target, ours) {
  const targetCpu = target.pids ? cpuOf(target.pids()) : cpuSeconds(target.pid);
  return { target: targetCpu, own: cpuOf(ours), busy: busyJiffies(), at: process.hrtime.bigint() };
}

/** Turns two samples into the window's CPU figures. */
export function windowCpu(start, end, targetCore) {
  const seconds = Number(end.at - start.at) / 1e9;
  const target = end.target - start.target;
  const machineBusy = (end.busy.cpu - start.busy.cpu) / CLK_TCK;
  const coreKey = `cpu${targetCore}`;
  const coreBusy = end.busy[coreKey] !== undefined ? (end.busy[coreKey] - start.busy[coreKey]) / CLK_TCK : undefined;
  const own = end.own - start.own;
  const loadKey = `cpu${targetCore === 0 ? 1 : 0}`;
  const loadBusy = end.busy[loadKey] !== undefined ? (end.busy[loadKey] - start.busy[loadKey]) / CLK_TCK : undefined;
  return {
    cpuSeconds: target,
    // Share of one core the target used during the window.
    cpuShare: target / seconds,
    // Core-seconds per second used by processes outside the bench (noise), machine-wide and on
    // the target's core. Kernel time charged to no process (softirq) lands here too, so a few
    // percent is normal.
    othersMachine: Math.max(0, (machineBusy - own) / seconds),
    othersTargetCore: coreBusy === undefined ? undefined : Math.max(0, (coreBusy - target) / seconds),
    // The load core: everything busy there that is not the bench's own load side.
    othersLoadCore: loadBusy === undefined ? undefined : Math.max(0, (loadBusy - (own - target)) / seconds),
  };
}

/**
 * Runs the raw load generator against `target` ({ pid, port, core }) and returns achieved rps,
 * requests per target CPU-second, latency percentiles (ms) and the noise figures.
 * `ours` lists the pids of every process the bench started (for the noise figure).
 */
export async function measureLoad({ target, ours, ...load }) {
  let start;
  let end;
  const result = await runLoad({
    port: target.port,
    ...load,
    onWindow(edge) {
      if (edge === 'start') start = sample(target, [process.pid, ...ours]);
      else end = sample(target, [process.pid, ...ours]);
    },
  });
  return { connections: load.connections, ...(load.rate ? { targetRps: Math.round(load.rate) } : {}), ...finish(result, start, end, target) };
}

/** Same figures for a window measured by another driver (the peer's client loop). */
export function cpuWindow(target, ours) {
  let start;
  let end;
  return {
    onWindow(edge) {
      if (edge === 'start') start = sample(target, [process.pid, ...ours]);
      else end = sample(target, [process.pid, ...ours]);
    },
    finish: (result) => finish(result, start, end, target),
  };
}

function finish(result, start, end, target) {
  const cpu = windowCpu(start, end, target.core ?? 0);
  return {
    requests: result.requests,
    errors: result.errors,
    errorSamples: result.errorSamples,
    seconds: round(result.seconds, 3),
    rps: round(result.rps, 0),
    perCpuSecond: cpu.cpuSeconds > 0 ? round(result.requests / cpu.cpuSeconds, 0) : null,
    cpuSeconds: round(cpu.cpuSeconds, 2),
    cpuShare: round(cpu.cpuShare, 2),
    latencyMs: Object.fromEntries(Object.entries(result.latency).map(([k, v]) => [k, v === null ? null : round(v, 3)])),
    noise: {
      othersMachine: round(cpu.othersMachine, 2),
      othersTargetCore: cpu.othersTargetCore === undefined ? null : round(cpu.othersTargetCore, 2),
      othersLoadCore: cpu.othersLoadCore === undefined ? null : round(cpu.othersLoadCore, 2),
    },
    ...(result.queued !== undefined ? { queuedAtEnd: result.queued } : {}),
    ...(result.samples ? { samples: result.samples } : {}),
  };
}

export function round(value, digits) {
  if (value === null || value === undefined || !Number.isFinite(value)) return value ?? null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
