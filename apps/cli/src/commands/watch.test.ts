// `dynmcp watch`, the built binary against a real gateway process on SQLite: it prints each change
// as the gateway applies it (one JSON object per line with -o json), replays from --since, stops
// cleanly on SIGINT, and fails with the gateway's error code when refused.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '@dynmcp/testing';
import { ADMIN_KEY, makeCliHome, runCli, startGateway, type CliHome, type GatewayProcess } from '../test-support/cli-harness.js';

const CLI_BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

let dataDir: string;
let gateway: GatewayProcess;
let home: CliHome;
const children: ChildProcessWithoutNullStreams[] = [];

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-watch-'));
  gateway = await startGateway(dataDir);
  home = makeCliHome();
});

after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await gateway?.stop();
  home?.remove();
  rmSync(dataDir, { recursive: true, force: true });
});

/** `dynmcp watch` running in the background; `line()` resolves with its next line of stdout. */
function startWatch(args: string[], url = gateway.url) {
  const child = spawn(process.execPath, [CLI_BIN, 'watch', ...args], {
    env: { PATH: process.env.PATH ?? '', ...home.env, DYNMCP_URL: url, DYNMCP_API_KEY: ADMIN_KEY },
    stdio: 'pipe',
  });
  children.push(child);
  const lines: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  let buffer = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let newline = buffer.indexOf('\n'); newline !== -1; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => stderr,
    line(timeoutMs = 5000): Promise<string> {
      const ready = lines.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line from dynmcp watch; stderr: ${stderr}`)), timeoutMs);
        waiting.push((line) => {
          clearTimeout(timer);
          resolve(line);
        });
      });
    },
  };
}

/** Resolves once `ready()` holds, checking every 20 ms; fails after `timeoutMs`. */
async function waitFor(ready: () => boolean, timeoutMs = 5000): Promise<void> {
  for (const start = Date.now(); !ready(); await sleep(20)) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
  }
}

async function write(method: 'PUT' | 'DELETE', id: string, url = gateway.url): Promise<number> {
  const tool = { id, name: id, description: `tool ${id}`, input_schema: { type: 'object' }, tds_ext_info: { domain: 'http://127.0.0.1:9', method: 'GET', path: '/' } };
  const response = await fetch(`${url}/admin/tds/${id}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: method === 'PUT' ? JSON.stringify(tool) : undefined,
  });
  const body = (await response.json()) as { meta: { revision: number } };
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.meta.revision;
}

test('watch -o json prints one object per line as changes arrive, and stops on SIGINT with exit 0', async () => {
  const watch = startWatch(['-o', 'json']);
  const ready = JSON.parse(await watch.line());
  assert.equal(ready.event, 'ready');
  assert.equal(typeof ready.revision, 'number');

  const put = await write('PUT', 'watched');
  assert.deepEqual(JSON.parse(await watch.line()), { event: 'change', revision: put, changes: [{ kind: 'tool', id: 'watched', op: 'put' }] });
  const removed = await write('DELETE', 'watched');
  assert.deepEqual(JSON.parse(await watch.line()), { event: 'change', revision: removed, changes: [{ kind: 'tool', id: 'watched', op: 'delete' }] });

  watch.child.kill('SIGINT');
  assert.equal(await watch.exited, 0, watch.stderr());
});

test('watch --since prints what changed after that revision first, one line per record, and says so', async () => {
  const first = await write('PUT', 'earlier');
  const second = await write('PUT', 'later');
  const watch = startWatch(['--since', String(first)]);
  assert.equal(await watch.line(), `${second}  put     tool      later`);
  await waitFor(() => watch.stderr().includes('\n'));
  assert.match(
    watch.stderr(),
    new RegExp(`^watching http://127\\.0\\.0\\.1:\\d+: replaying the changes after revision ${first}, then following from revision ${second} \\(Ctrl-C to stop\\)$`, 'm'),
  );
  watch.child.kill('SIGTERM');
  assert.equal(await watch.exited, 0);

  // Nothing after the current revision: nothing to replay, and the note says where it follows from.
  const current = startWatch(['--since', String(second)]);
  await waitFor(() => current.stderr().includes('\n'));
  assert.match(current.stderr(), new RegExp(`^watching http://127\\.0\\.0\\.1:\\d+ from revision ${second} \\(Ctrl-C to stop\\)$`, 'm'));
  current.child.kill('SIGTERM');
  assert.equal(await current.exited, 0);
});

test('watch with a wrong key fails with the gateway’s error code and exit 2', async () => {
  const run = await runCli(['watch'], { ...home.env, DYNMCP_URL: gateway.url, DYNMCP_API_KEY: 'not-the-key' });
  assert.equal(run.code, 2);
  assert.match(run.stderr, /UNAUTHORIZED \(401\)/);
});

test('when the gateway restarts, watch reconnects and carries on from the last revision it printed', async () => {
  const restartDir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-watch-restart-'));
  const env = { DYNMCP_PORT: String(await freePort()) };
  let restarting = await startGateway(restartDir, env);
  try {
    const watch = startWatch(['-o', 'json'], restarting.url);
    assert.equal(JSON.parse(await watch.line()).event, 'ready');
    const before = await write('PUT', 'before-restart', restarting.url);
    assert.equal(JSON.parse(await watch.line()).revision, before);

    await restarting.stop();
    restarting = await startGateway(restartDir, env);
    const ready = JSON.parse(await watch.line(15_000));
    assert.deepEqual(ready, { event: 'ready', revision: before }, 'resumed from the last revision: nothing to replay, no reset');
    const after = await write('PUT', 'after-restart', restarting.url);
    assert.deepEqual(JSON.parse(await watch.line()), { event: 'change', revision: after, changes: [{ kind: 'tool', id: 'after-restart', op: 'put' }] });
    assert.match(watch.stderr(), /the stream ended; reconnecting/);
    watch.child.kill('SIGINT');
    assert.equal(await watch.exited, 0);
  } finally {
    await restarting.stop();
    rmSync(restartDir, { recursive: true, force: true });
  }
});
