// Official MCP tools that need Node 22 (mcp-remote), installed once into
// the tools cache ($DYNMCP_TOOLS_CACHE, default ~/.cache/dynmcp/tools; see scripts/tools-cache.mjs)
// with a Node 22 binary from the npm registry, as conformance/run.mjs does, and run as child processes.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ensureInstalled, toolsCacheDir } from '../../../../scripts/tools-cache.mjs';

const NODE_MAJOR = 22;
const log = (message: string) => process.stderr.write(`official tools: ${message}\n`);

/** A Node ≥ 22 binary: this one when it is, else `node-<platform>-<arch>@22` from the registry. */
export function node22(): string {
  if (Number(process.versions.node.split('.')[0]) >= NODE_MAJOR) return process.execPath;
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(toolsCacheDir, `node${NODE_MAJOR}`);
  const binary = join('node_modules', pkg, 'bin', 'node');
  ensureInstalled(dir, `${pkg}@${NODE_MAJOR}`, binary, { log });
  return join(dir, binary);
}

/** The entry script of an npm package installed into the cache at `name-version`. */
function installed(pkg: string, version: string, entry: string): string {
  const dir = join(toolsCacheDir, `${pkg.replace(/^@[^/]+\//, '')}-${version}`);
  const marker = join('node_modules', pkg, entry);
  ensureInstalled(dir, `${pkg}@${version}`, marker, { log });
  return join(dir, marker);
}

/** `mcp-remote`, the stdio-to-HTTP bridge many desktop clients use for remote servers. */
export const mcpRemote = () => installed('mcp-remote', '0.15.1', join('dist', 'proxy.js'));

/** What a finished tool process printed and how it ended. */
export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` on Node 22 with `args`, writes `stdin` (then keeps stdin open until the process
 * ends, as an MCP host does), and resolves when it exits, when its stdout matches `until`, or after
 * `timeoutMs` (it is killed then).
 */
export function runTool(
  script: string,
  args: string[],
  /** `until`: stop the process (SIGTERM) once its stdout matches, for tools that keep serving. */
  options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number; until?: RegExp } = {},
): Promise<ToolRun> {
  return new Promise((resolve) => {
    const child = spawn(node22(), [script, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (options.until?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    if (options.stdin !== undefined) child.stdin.write(options.stdin);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
