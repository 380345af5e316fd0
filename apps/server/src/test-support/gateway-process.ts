import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
const configDir = fileURLToPath(new URL('../../../../config', import.meta.url));

/** A gateway replica running as its own process, from the built `dynmcp-server` binary. */
export interface GatewayProcess {
  child: ChildProcess;
  /** Every stdout line, parsed (each must be JSON). */
  lines: Array<Record<string, unknown>>;
  stderr: string[];
  /** Resolves with the base URL once the gateway logged `gateway listening`; rejects if it exits first. */
  url: Promise<string>;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts `node apps/server/dist/bin.js` with `env` (plus PATH and the repository's config folder).
 * Pass `DYNMCP_PORT: '0'` for a free port; the URL comes from the start-up log line. `prefix` runs
 * it through a command that execs it, e.g. `['ip', 'netns', 'exec', 'h1']`.
 */
export function startGatewayProcess(env: Record<string, string>, options: { cwd?: string; prefix?: string[] } = {}): GatewayProcess {
  const argv = [...(options.prefix ?? []), process.execPath, bin];
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', DYNMCP_CONFIG_DIR: configDir, DYNMCP_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let resolveUrl!: (url: string) => void;
  let rejectUrl!: (error: Error) => void;
  const url = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  void exited.then((code) => rejectUrl(new Error(`gateway exited with ${code}: ${stderr.join('')}`)));
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (parsed.message === 'gateway listening') resolveUrl(parsed.url as string);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  return {
    child,
    lines,
    stderr,
    url,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(graceMs).then(() => 'timeout' as const)]);
      if (code !== 'timeout') return code;
      child.kill('SIGKILL');
      return exited;
    },
  };
}
