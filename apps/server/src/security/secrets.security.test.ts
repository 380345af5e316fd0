import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';

const LOOPBACK_UPSTREAM = { egress: { allow: ['127.0.0.1'] } };

function tool(id: string, domain: string, headers: Record<string, string>) {
  return {
    id,
    name: id,
    description: `Tool ${id}`,
    input_schema: { type: 'object', properties: {} },
    tds_ext_info: { domain, method: 'GET', path: '/v1/me', required_params: {}, ext_info: { headers } },
  };
}

async function callTool(gw: TestGateway, instance: string, name: string) {
  const { client } = await connectModern(`${gw.url}/mcp/${instance}`);
  try {
    const result = await client.callTool({ name, arguments: {} });
    return { isError: result.isError === true, text: (result.content as { text?: string }[])[0]?.text ?? '' };
  } finally {
    await client.close();
  }
}

describe('secrets in tool definitions', () => {
  let upstream: TestUpstream;
  let secretsDir: string;

  before(async () => {
    upstream = await startUpstream();
    secretsDir = mkdtempSync(join(tmpdir(), 'dynmcp-secrets-'));
  });
  after(async () => {
    await upstream.close();
    rmSync(secretsDir, { recursive: true, force: true });
  });

  test('${env:DYNMCP_API_KEYS} is refused at write time under any allow-list, and the admin key is never sent', async () => {
    // The process environment as main() would pass it: the admin key sits in DYNMCP_API_KEYS.
    const env = { DYNMCP_API_KEYS: TEST_KEY, DYNMCP_MYSQL_PASSWORD: 'mysql-canary', ADMIN_COPY: TEST_KEY, UPSTREAM_TOKEN: 'tok' };
    const overridesList = [
      { executor: LOOPBACK_UPSTREAM },
      { executor: { ...LOOPBACK_UPSTREAM, toolEnvAllow: ['*'] } },
      { env: 'production', executor: { ...LOOPBACK_UPSTREAM, toolEnvAllow: ['*', 'DYNMCP_*', 'DYNMCP_API_KEYS'] } },
    ];
    for (const overrides of overridesList) {
      const gw = await startTestGateway(overrides, { env });
      try {
        for (const name of ['DYNMCP_API_KEYS', 'DYNMCP_MYSQL_PASSWORD']) {
          const res = await gw.admin('PUT', '/admin/tds/leak', tool('leak', upstream.url, { 'X-Leak': `\${env:${name}}` }));
          assert.equal(res.status, 400, name);
          assert.equal(res.body.error_code, 'INVALID_PAYLOAD');
          assert.match(res.body.error, /gateway's own settings \(DYNMCP_\*\), which tools can never read, whatever DYNMCP_TOOL_ENV_ALLOW says/);
        }
        // A copy of the admin key under another name is refused too: the value is what matters.
        const copy = await gw.admin('PUT', '/admin/tds/leak', tool('leak', upstream.url, { 'X-Leak': 'k=${env:ADMIN_COPY}' }));
        assert.equal(copy.status, 400);
        assert.match(copy.body.error, /holds one of the gateway's own credentials/);
        assert.doesNotMatch(JSON.stringify([copy.body]), new RegExp(TEST_KEY));
        assert.equal((await gw.admin('GET', '/admin/tds/leak')).status, 404);
      } finally {
        await gw.stop();
      }
    }

    // A variable a tool may read that turns into a copy of the admin key after the tool was written:
    // refused at call time, before anything is sent.
    const callEnv: Record<string, string> = { UPSTREAM_TOKEN: 'tok' };
    const gw = await startTestGateway({ executor: LOOPBACK_UPSTREAM }, { env: callEnv });
    try {
      assert.equal((await gw.admin('PUT', '/admin/tds/t', tool('t', upstream.url, { authorization: 'Bearer ${env:UPSTREAM_TOKEN}' }))).status, 200);
      await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });
      assert.equal((await callTool(gw, 'shop', 't')).isError, false);
      callEnv['UPSTREAM_TOKEN'] = TEST_KEY;
      const before = upstream.hits.length;
      const refused = await callTool(gw, 'shop', 't');
      assert.equal(refused.isError, true);
      assert.equal(
        refused.text,
        'environment variable UPSTREAM_TOKEN holds one of the gateway\'s own credentials; it is never sent upstream (needed by header "authorization" of this tool)',
      );
      assert.equal(upstream.hits.length, before, 'nothing was sent');
    } finally {
      await gw.stop();
    }
    assert.ok(
      upstream.hits.every((hit) => !JSON.stringify(hit.headers).includes(TEST_KEY)),
      'the admin key never reached the upstream',
    );
  });

  test('copies of the credential store key and the session signing key are never sent either', async () => {
    // Whoever holds the session secret can mint session ids; the credentials key opens every stored credential.
    const sessionSecret = Buffer.alloc(32, 7).toString('base64');
    const credentialsKey = Buffer.alloc(32, 9).toString('base64');
    const env = { SESSION_COPY: sessionSecret, CREDENTIALS_COPY: credentialsKey };
    const gw = await startTestGateway({ mcp: { sessionSecret }, credentials: { key: credentialsKey }, executor: LOOPBACK_UPSTREAM }, { env });
    try {
      for (const name of Object.keys(env)) {
        const res = await gw.admin('PUT', '/admin/tds/leak', tool('leak', upstream.url, { 'X-Leak': `\${env:${name}}` }));
        assert.equal(res.status, 400, name);
        assert.match(res.body.error, /holds one of the gateway's own credentials/);
      }
    } finally {
      await gw.stop();
    }
  });

  test('the allow-list: development reads any variable, production none until listed; a call names what is missing', async () => {
    const env: Record<string, string> = { RESEND_KEY: 're_1', OTHER_SECRET: 'other' };
    const development = await startTestGateway({}, { env });
    try {
      assert.equal((await development.admin('PUT', '/admin/tds/t', tool('t', upstream.url, { 'X-Key': '${env:OTHER_SECRET}' }))).status, 200);
    } finally {
      await development.stop();
    }
    const production = { env: 'production', executor: { ...LOOPBACK_UPSTREAM } };
    const closed = await startTestGateway(production, { env });
    try {
      const res = await closed.admin('PUT', '/admin/tds/t', tool('t', upstream.url, { 'X-Key': '${env:RESEND_KEY}' }));
      assert.equal(res.status, 400);
      assert.match(res.body.error, /^ext_info\.headers\.x-key: \$\{env:RESEND_KEY\} is not on the list of variables tools may read; add RESEND_KEY to executor\.toolEnvAllow \(DYNMCP_TOOL_ENV_ALLOW\)/);
    } finally {
      await closed.stop();
    }
    const listed = await startTestGateway({ ...production, executor: { ...LOOPBACK_UPSTREAM, toolEnvAllow: ['RESEND_*'] } }, { env });
    try {
      assert.equal((await listed.admin('PUT', '/admin/tds/t', tool('t', upstream.url, { 'X-Key': 'k=${env:RESEND_KEY}' }))).status, 200);
      assert.equal((await listed.admin('PUT', '/admin/tds/u', tool('u', upstream.url, { 'X-Key': '${env:RESEND_UNSET}' }))).status, 200);
      assert.equal((await listed.admin('PUT', '/admin/tds/o', tool('o', upstream.url, { 'X-Key': '${env:OTHER_SECRET}' }))).status, 400);
      await listed.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t', 'u'] });
      const before = upstream.hits.length;
      assert.equal((await callTool(listed, 'shop', 't')).isError, false);
      assert.equal(upstream.hits.at(-1)?.headers['x-key'], 'k=re_1');
      const unset = await callTool(listed, 'shop', 'u');
      assert.equal(unset.text, 'environment variable RESEND_UNSET is not set (needed by header "x-key" of this tool)');
      assert.equal(upstream.hits.length, before + 1);
    } finally {
      await listed.stop();
    }
  });

  test('${secret:NAME} is read from the secrets directory and read again after the file changes', async () => {
    const gw = await startTestGateway({ env: 'production', executor: { ...LOOPBACK_UPSTREAM, secretsDir } });
    try {
      const headers = { authorization: 'Bearer ${secret:upstream_token}' };
      assert.equal((await gw.admin('PUT', '/admin/tds/t', tool('t', upstream.url, headers))).status, 200);
      const escape = await gw.admin('PUT', '/admin/tds/x', tool('x', upstream.url, { authorization: '${secret:../etc/passwd}' }));
      assert.equal(escape.status, 400);
      assert.match(escape.body.error, /secret:NAME\} \(a file name without "\/" or a leading "\."\)/);
      await gw.admin('PUT', '/admin/ids/shop', { name: 'shop', tool_ids: ['t'] });

      const missing = await callTool(gw, 'shop', 't');
      assert.equal(missing.isError, true);
      assert.match(missing.text, /^secret upstream_token is not available: no file named upstream_token /);
      assert.doesNotMatch(missing.text, new RegExp(secretsDir));

      writeFileSync(join(secretsDir, 'upstream_token'), 'first-token\n');
      await sleep(1_100);
      assert.equal((await callTool(gw, 'shop', 't')).isError, false);
      assert.equal(upstream.hits.at(-1)?.headers.authorization, 'Bearer first-token');

      writeFileSync(join(secretsDir, 'upstream_token'), 'second-token-rotated\n');
      await sleep(1_100);
      assert.equal((await callTool(gw, 'shop', 't')).isError, false);
      assert.equal(upstream.hits.at(-1)?.headers.authorization, 'Bearer second-token-rotated');
    } finally {
      await gw.stop();
    }
  });
});
