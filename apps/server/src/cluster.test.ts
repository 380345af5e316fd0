/**
 * `server.workers` as read from the environment and a file: a whole number or `auto` (one per
 * core this process may use); anything else is refused with the key named.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '@dynmcp/common';
import { workerCount } from './cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-workers-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const workersFrom = (env: Record<string, string>) => loadConfig({ env, configDir: dir }).server.workers;

test('DYNMCP_WORKERS: a number, or auto for one worker per usable core; 1 by default', () => {
  assert.equal(workersFrom({}), 1);
  assert.equal(workerCount(workersFrom({})), 1);
  assert.equal(workersFrom({ DYNMCP_WORKERS: '4' }), 4);
  assert.equal(workerCount(workersFrom({ DYNMCP_WORKERS: '4' })), 4);
  assert.equal(workersFrom({ DYNMCP_WORKERS: 'auto' }), 'auto');
  assert.equal(workerCount(workersFrom({ DYNMCP_WORKERS: ' auto ' })), availableParallelism());
});

test('server.workers from a file, and values that are refused with the key named', () => {
  const fileDir = mkdtempSync(join(dir, 'file-'));
  writeFileSync(join(fileDir, 'default.json'), JSON.stringify({ server: { workers: 'auto' } }));
  assert.equal(loadConfig({ env: {}, configDir: fileDir }).server.workers, 'auto');
  for (const bad of ['0', '-1', '2.5', 'many', '1000']) {
    assert.throws(() => workersFrom({ DYNMCP_WORKERS: bad }), /server\.workers.*"auto"/, `DYNMCP_WORKERS=${bad}`);
  }
});
