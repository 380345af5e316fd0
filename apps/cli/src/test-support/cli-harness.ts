import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

// Paths in the repository, not imports: the CLI is a client and depends on no server code; its
// tests run the gateway as the operator would, from the server's built binary.
const SERVER_BIN = fileURLToPath(new URL('../../../server/dist/bin.js', import.meta.url));
const CLI_BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));
const CONFIG_DIR = fileURLToPath(new URL('../../../../config', import.meta.url));

export const ADMIN_KEY = 'cli-test-admin-key-5309';

/** A gateway running as its own process. */
export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `dynmcp-server` (or, with `via: 'cli'`, `dynmcp serve`) on a free loopback port with `env`
 * (an SQLite store in `dataDir` unless `env` chooses another).
 */
export async function startGateway(dataDir: string, env: Record<string, string> = {}, via: 'server' | 'cli' = 'server'): Promise<GatewayProcess & { exited: Promise<number | null> }> {
  const child = spawn(process.execPath, via === 'server' ? [SERVER_BIN] : [CLI_BIN, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      DYNMCP_CONFIG_DIR: CONFIG_DIR,
      DYNMCP_HOST: '127.0.0.1',
      DYNMCP_PORT: '0',
      DYNMCP_API_KEYS: ADMIN_KEY,
      DYNMCP_DATASOURCE: 'sqlite',
      DYNMCP_SQLITE_PATH: join(dataDir, 'store.sqlite'),
      DYNMCP_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        const parsed = JSON.parse(line) as { message?: string; url?: string };
        if (parsed.message === 'gateway listening') resolve(parsed.url!);
      }
    });
    void exited.then((code) => reject(new Error(`gateway exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    child,
    exited,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
      if (done === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temporary HOME and XDG_CONFIG_HOME for the CLI, so no test reads the developer's profiles. */
export interface CliHome {
  dir: string;
  env: Record<string, string>;
  /** Writes `config.yaml` of the dynmcp config folder. */
  writeConfig(text: string): void;
  /** Writes a file under the home folder; returns its path. */
  file(path: string, text: string): string;
  remove(): void;
}

export function makeCliHome(): CliHome {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-home-'));
  const config = join(dir, 'xdg');
  return {
    dir,
    env: { HOME: dir, XDG_CONFIG_HOME: config },
    writeConfig(text) {
      mkdirSync(join(config, 'dynmcp'), { recursive: true });
      writeFileSync(join(config, 'dynmcp', 'config.yaml'), text);
    },
    file(path, text) {
      const full = join(dir, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
      return full;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Runs the built `dynmcp` binary with `args` and only `env` (plus PATH); stdin is closed, or a pipe
 * carrying `input`, so never a terminal.
 */
export function runCli(args: readonly string[], env: Record<string, string>, input?: string): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
