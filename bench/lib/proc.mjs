// Processes under test: spawn pinned to a core, read their CPU time and memory from /proc, stop them.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import net from 'node:net';

/** Clock ticks per second for /proc/<pid>/stat utime/stime (USER_HZ; 100 on every Linux we run on). */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

const PAGE_SIZE = (() => {
  try {
    return Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
  } catch {
    return 4096;
  }
})();

export const HAVE_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * CPU seconds (utime + stime) the process has used so far, all its threads included
 * (/proc/<pid>/stat fields 14 and 15 are for the whole thread group).
 */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields are counted after its closing paren.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size in bytes, from /proc/<pid>/statm. */
export function rssBytes(pid) {
  const statm = readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
  return Number(statm[1]) * PAGE_SIZE;
}

/** Pins this process (all its threads) to `core`; children inherit it. */
export function pinSelf(core) {
  if (!HAVE_TASKSET) return false;
  execFileSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' });
  return true;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const running = new Set();

/**
 * Spawns `cmd args` pinned to `core` (via `taskset -c`, which execs, so the child pid is the
 * program's own pid). Keeps the last 8 KiB of stderr for error messages.
 */
export function spawnPinned(core, cmd, args, { env = {}, cwd, stdout = 'ignore', name = cmd } = {}) {
  const argv = HAVE_TASKSET && core !== undefined ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];
  const child = spawn(argv[0], argv[1], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk.toString()).slice(-8192);
  });
  const proc = {
    name,
    child,
    pid: child.pid,
    get stderr() {
      return stderr;
    },
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      running.delete(proc);
      if (!proc.alive()) return;
      child.kill(signal);
      const done = await Promise.race([proc.exited, sleep(graceMs).then(() => undefined)]);
      if (done === undefined && proc.alive()) {
        child.kill('SIGKILL');
        await proc.exited;
      }
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process this run started (on errors and at exit). */
export async function stopAll() {
  await Promise.all([...running].map((proc) => proc.stop('SIGTERM', 3000)));
}

/** Kills what is left synchronously (process exit path). */
export function killAllSync() {
  for (const proc of running) if (proc.alive()) proc.child.kill('SIGKILL');
}

/** Waits until `probe()` resolves truthy, polling every `intervalMs`; throws after `timeoutMs`. */
export async function waitFor(probe, { timeoutMs = 20000, intervalMs = 20, what = 'condition', proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && !proc.alive()) throw new Error(`${proc.name} exited before ${what}: ${proc.stderr.trim().slice(-2000)}`);
    try {
      const value = await probe();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

