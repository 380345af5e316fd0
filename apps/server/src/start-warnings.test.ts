/**
 * What the gateway says at start about its configuration: the warnings it logs for settings that
 * are allowed but likely a mistake, and the refusal, on stderr, of settings that are wrong.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRecordingLogger } from '@dynmcp/plugin';
import { startGatewayProcess } from './test-support/gateway-process.js';
import { startTestGateway } from './test-support/test-gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'dynmcp-start-warnings-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('every placeholder admin key of the shipped config files is warned about, plain or named', async () => {
  for (const [apiKeys, placeholders] of [
    [['change-me-to-a-long-random-key'], ['change-me-to-a-long-random-key']],
    [['your-api-key', 'ops:change-me-to-a-long-random-key'], ['your-api-key', 'change-me-to-a-long-random-key']],
    [['a-real-admin-key-4711'], []],
  ] as const) {
    const recording = createRecordingLogger();
    const gateway = await startTestGateway({ admin: { apiKeys } }, { logger: recording.logger });
    await gateway.stop();
    const warned = recording.lines.filter((line) => line.level === 'warn' && line.message.startsWith('the placeholder admin API key')).map((line) => line.message);
    assert.deepEqual(
      warned,
      placeholders.map((key) => `the placeholder admin API key "${key}" is enabled; set your own with DYNMCP_API_KEYS`),
      apiKeys.join(','),
    );
  }
});

test('the gateway logs a warning for each misspelt DYNMCP_ variable, and for an empty DYNMCP_API_KEYS', async () => {
  // config/development.json enables "your-api-key"; the empty variable replaces it with no key at all.
  const gateway = startGatewayProcess({
    DYNMCP_PORT: '0',
    DYNMCP_SQLITE_PATH: join(dir, 'store.sqlite'),
    DYNMCP_API_KEYS: '',
    DYNMCP_LOGLEVEL: 'debug',
    DYNMCP_API_KEY: 'cli-admin-key-0001',
    DYNMCP_ENV: 'development',
  });
  try {
    await gateway.url;
    const warnings = gateway.lines.filter((line) => line.level === 'warn');
    const about = (variable: string) => warnings.find((line) => line.variable === variable);
    assert.equal(about('DYNMCP_LOGLEVEL')?.didYouMean, 'DYNMCP_LOG_LEVEL');
    assert.match(String(about('DYNMCP_LOGLEVEL')?.message), /^an environment variable starting with DYNMCP_ is not a setting and is ignored/);
    assert.match(String(about('DYNMCP_API_KEY')?.message), /the server reads its admin keys from DYNMCP_API_KEYS/);
    assert.equal(warnings.filter((line) => line.variable !== undefined).length, 2, 'one line per variable, once');
    assert.ok(warnings.some((line) => line.message === 'no admin API keys configured: the admin API refuses every request; set DYNMCP_API_KEYS'));
    assert.ok(!warnings.some((line) => String(line.message).includes('placeholder')));
  } finally {
    await gateway.stop();
  }
});

test('a bad number, bad JSON or a broken rule stops the start with the setting and its variable on stderr', async () => {
  for (const [env, expected] of [
    [{ DYNMCP_UPSTREAM_TIMEOUT_MS: '5s' }, /^dynmcp: invalid configuration: executor\.timeoutMs: must be a whole number, 1 or more, in digits only.*value was "5s" \(from DYNMCP_UPSTREAM_TIMEOUT_MS\)\n$/],
    [{ DYNMCP_PORT: '3.9e4' }, /server\.port: must be a port number from 0 to 65535.*value was "3\.9e4" \(from DYNMCP_PORT\)/],
    [{ DYNMCP_AUTH_KEYS: '[{id:"a"}]' }, /auth\.keys: must be a JSON list .*not JSON: Expected property name .* \(from DYNMCP_AUTH_KEYS\)/],
    [{ DYNMCP_API_KEYS: 'k' }, /admin\.apiKeys: entry 1 is 1 character long; an admin key needs at least 8 .*\(from DYNMCP_API_KEYS\)/],
    [{ DYNMCP_HEADERS_TIMEOUT_MS: '60000' }, /server\.headersTimeoutMs \(DYNMCP_HEADERS_TIMEOUT_MS\) is 60000 but must be at most server\.requestTimeoutMs \(DYNMCP_REQUEST_TIMEOUT_MS\)/],
  ] as const) {
    const bad = startGatewayProcess({ DYNMCP_PORT: '0', DYNMCP_SQLITE_PATH: join(dir, 'refused.sqlite'), ...env });
    bad.url.catch(() => undefined);
    assert.equal(await bad.exited, 1, JSON.stringify(env));
    assert.match(bad.stderr.join(''), expected);
  }
});
