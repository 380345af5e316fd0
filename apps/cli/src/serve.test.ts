import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMIN_KEY, startGateway } from './test-support/cli-harness.js';

test('dynmcp serve starts the gateway with the usual settings and stops it gracefully on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-serve-'));
  const gateway = await startGateway(dir, {}, 'cli');
  try {
    const health = await fetch(`${gateway.url}/healthz`);
    assert.equal(health.status, 200);
    const tools = await fetch(`${gateway.url}/admin/tds`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(tools.status, 200, 'DYNMCP_API_KEYS reached the gateway through the CLI');
    gateway.child.kill('SIGTERM');
    assert.equal(await gateway.exited, 0, 'the CLI passed SIGTERM on and exited with the gateway');
  } finally {
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
