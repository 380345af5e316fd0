import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GatewayError } from '@dynmcp/plugin';
import { parseEnvTemplate, resolveEnvTemplate } from './env-template.js';
import { MAX_SECRET_BYTES, SECRET_RECHECK_MS, createSecretFiles } from './secret-files.js';
import { compileEnvAllowList, createTemplateValues } from './template-values.js';
import type { TemplateValuesOptions } from './template-values.js';

const ADMIN_KEY = 'admin-key-0123456789';

function valuesWith(options: Partial<TemplateValuesOptions>) {
  return createTemplateValues({ env: {}, envAllow: [], secretsDir: '/nonexistent', protectedValues: [], ...options });
}

function resolve(values: ReturnType<typeof valuesWith>, text: string) {
  return resolveEnvTemplate(parseEnvTemplate(text, 'h'), values);
}

function refusedAtWrite(values: ReturnType<typeof valuesWith>, text: string, pattern: RegExp): void {
  assert.throws(
    () => values.check(parseEnvTemplate(text, 'h'), 'ext_info.headers.x-leak'),
    (error: unknown) => error instanceof GatewayError && error.code === 'INVALID_PAYLOAD' && pattern.test(error.message),
    text,
  );
}

describe('the tools\' environment allow-list', () => {
  it('matches exact names, PREFIX* entries and *', () => {
    const listed = compileEnvAllowList(['RESEND_*', 'GITHUB_TOKEN']);
    assert.equal(listed('RESEND_KEY'), true);
    assert.equal(listed('RESEND_'), true);
    assert.equal(listed('GITHUB_TOKEN'), true);
    assert.equal(listed('GITHUB_TOKEN_2'), false);
    assert.equal(listed('HOME'), false);
    assert.equal(compileEnvAllowList(['*'])('ANYTHING'), true);
    assert.equal(compileEnvAllowList([])('ANYTHING'), false);
    for (const bad of ['A*B', 'a-b', '', '**']) assert.throws(() => compileEnvAllowList([bad]), /toolEnvAllow/, bad);
  });

  it('reads only listed variables, and names the setting at write time', () => {
    const values = valuesWith({ env: { RESEND_KEY: 'r', DB_PASSWORD: 'd' }, envAllow: ['RESEND_*'] });
    assert.deepEqual(resolve(values, 'Bearer ${env:RESEND_KEY}'), { ok: true, value: 'Bearer r' });
    const refused = resolve(values, '${env:DB_PASSWORD}');
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.problem, /DB_PASSWORD may not be read by tools .*DYNMCP_TOOL_ENV_ALLOW/);
    assert.doesNotMatch(JSON.stringify(refused), /"d"/);
    refusedAtWrite(values, '${env:DB_PASSWORD}', /add DB_PASSWORD to executor\.toolEnvAllow \(DYNMCP_TOOL_ENV_ALLOW\)/);
    values.check(parseEnvTemplate('${env:RESEND_KEY} ${env:RESEND_UNSET}', 'h'), 'x');
    assert.deepEqual(resolve(values, '${env:RESEND_UNSET}'), { ok: false, problem: 'environment variable RESEND_UNSET is not set' });
  });

  it('never reads the gateway\'s own DYNMCP_* settings, even under *', () => {
    const values = valuesWith({ env: { DYNMCP_API_KEYS: ADMIN_KEY, DYNMCP_MYSQL_PASSWORD: 'pw' }, envAllow: ['*', 'DYNMCP_*', 'DYNMCP_API_KEYS'] });
    for (const name of ['DYNMCP_API_KEYS', 'DYNMCP_MYSQL_PASSWORD']) {
      const result = resolve(values, `\${env:${name}}`);
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.problem, new RegExp(`${name} is one of the gateway's own settings`));
      refusedAtWrite(values, `\${env:${name}}`, /gateway's own settings \(DYNMCP_\*\).*whatever DYNMCP_TOOL_ENV_ALLOW says/);
    }
    assert.doesNotMatch(JSON.stringify(resolve(values, '${env:DYNMCP_API_KEYS}')), new RegExp(ADMIN_KEY));
  });

  it('refuses a variable holding one of the gateway\'s credentials, whole or inside it', () => {
    const env = { COPY: ADMIN_KEY, WRAPPED: `Bearer ${ADMIN_KEY}`, SHORT: 'pw', SHORTER: 'pwx', OTHER: 'fine' };
    const values = valuesWith({ env, envAllow: ['*'], protectedValues: [ADMIN_KEY, 'pw', ''] });
    for (const name of ['COPY', 'WRAPPED', 'SHORT']) {
      const result = resolve(values, `\${env:${name}}`);
      assert.equal(result.ok, false, name);
      assert.match(result.ok ? '' : result.problem, /holds one of the gateway's own credentials/);
      refusedAtWrite(values, `\${env:${name}}`, /holds one of the gateway's own credentials/);
    }
    // A short credential is refused only as the whole value: as a substring it would refuse far too much.
    assert.deepEqual(resolve(values, '${env:SHORTER}'), { ok: true, value: 'pwx' });
    assert.deepEqual(resolve(values, '${env:OTHER}'), { ok: true, value: 'fine' });
  });
});

describe('secret files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file without its trailing newline, and names a missing one', () => {
    writeFileSync(join(dir, 'resend_key'), 're_123\n');
    const secrets = createSecretFiles(dir);
    assert.deepEqual(secrets.read('resend_key'), { ok: true, value: 're_123' });
    const missing = secrets.read('nope');
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.problem, /^secret nope is not available: no file named nope .*DYNMCP_SECRETS_DIR/);
    assert.doesNotMatch(missing.ok ? '' : missing.problem, new RegExp(dir));
  });

  it('looks at a file at most once a second and picks up a change after that', () => {
    let clock = 1_000_000;
    const secrets = createSecretFiles(dir, () => clock);
    writeFileSync(join(dir, 'rotating'), 'one\n');
    assert.deepEqual(secrets.read('rotating'), { ok: true, value: 'one' });
    writeFileSync(join(dir, 'rotating'), 'two-two\n');
    clock += SECRET_RECHECK_MS - 1;
    assert.deepEqual(secrets.read('rotating'), { ok: true, value: 'one' }, 'within the interval the cached value is used');
    clock += 1;
    assert.deepEqual(secrets.read('rotating'), { ok: true, value: 'two-two' });
    // An atomic replacement (a new inode under the same name), as Kubernetes does it.
    writeFileSync(join(dir, 'rotating.tmp'), 'three\n');
    renameSync(join(dir, 'rotating.tmp'), join(dir, 'rotating'));
    clock += SECRET_RECHECK_MS;
    assert.deepEqual(secrets.read('rotating'), { ok: true, value: 'three' });
  });

  it('follows Kubernetes-style symlinks, and refuses directories, empty and oversized files', () => {
    mkdirSync(join(dir, '..data-1'));
    writeFileSync(join(dir, '..data-1', 'linked'), 'via-link');
    symlinkSync(join(dir, '..data-1', 'linked'), join(dir, 'linked'));
    mkdirSync(join(dir, 'a-dir'));
    writeFileSync(join(dir, 'empty'), '\n');
    writeFileSync(join(dir, 'huge'), Buffer.alloc(MAX_SECRET_BYTES + 1, 'a'));
    const secrets = createSecretFiles(dir);
    assert.deepEqual(secrets.read('linked'), { ok: true, value: 'via-link' });
    for (const [name, why] of [['a-dir', /not a regular file/], ['empty', /is empty/], ['huge', /larger than/]] as const) {
      const result = secrets.read(name);
      assert.equal(result.ok, false, name);
      assert.match(result.ok ? '' : result.problem, why);
    }
  });

  it('are resolved through the template values, which refuse one holding a gateway credential', () => {
    writeFileSync(join(dir, 'api_token'), 'tok-1\n');
    writeFileSync(join(dir, 'admin_copy'), `${ADMIN_KEY}\n`);
    const values = valuesWith({ secretsDir: dir, protectedValues: [ADMIN_KEY] });
    assert.deepEqual(resolve(values, 'Bearer ${secret:api_token}'), { ok: true, value: 'Bearer tok-1' });
    const copy = resolve(values, '${secret:admin_copy}');
    assert.equal(copy.ok, false);
    assert.match(copy.ok ? '' : copy.problem, /secret admin_copy holds one of the gateway's own credentials/);
    // Secrets are read at call time only: a file mounted later is fine at write time.
    values.check(parseEnvTemplate('${secret:mounted_later}', 'h'), 'x');
  });
});

describe('per-caller references: ${claim:NAME} and ${principal:NAME}', () => {
  const withClaims = { id: 'oidc:u1', admin: false, instances: '*' as const, claims: { sub: 'u1', email: 'u1@example.com', level: 3, groups: ['a'] } };
  const apiKeyCaller = { id: 'team-a', admin: false, instances: '*' as const };
  const resolveAs = (values: ReturnType<typeof valuesWith>, text: string, caller?: typeof withClaims | typeof apiKeyCaller) =>
    resolveEnvTemplate(parseEnvTemplate(text, 'h'), values, caller);

  it('sends allow-listed claims of the caller, and refuses others at write time and at call time', () => {
    const values = valuesWith({ claimsAllow: ['sub', 'email', 'level', 'groups'] });
    assert.deepEqual(resolveAs(values, '${claim:sub}|${claim:email}|${claim:level}', withClaims), { ok: true, value: 'u1|u1@example.com|3' });
    const listOnly = resolveAs(values, '${claim:groups}', withClaims);
    assert.match(listOnly.ok ? '' : listOnly.problem, /claim "groups" of the caller's token is not a string, number or boolean/);
    const narrow = valuesWith({ claimsAllow: ['sub'] });
    refusedAtWrite(narrow, 'x ${claim:email}', /\$\{claim:email\} names a claim .*add email to executor\.toolClaimsAllow \(DYNMCP_TOOL_CLAIMS_ALLOW\)/);
    narrow.check(parseEnvTemplate('${claim:sub}', 'h'), 'x');
    const offList = resolveAs(narrow, '${claim:email}', withClaims);
    assert.match(offList.ok ? '' : offList.problem, /claim "email" may not be sent by tools/);
  });

  it('names the missing claim, the caller without claims and the anonymous caller, never a value', () => {
    const values = valuesWith({ claimsAllow: ['sub', 'name'] });
    const missing = resolveAs(values, '${claim:name}', withClaims);
    assert.deepEqual(missing, { ok: false, problem: 'claim "name" is missing from the caller\'s token' });
    const apiKey = resolveAs(values, '${claim:sub}', apiKeyCaller);
    assert.match(apiKey.ok ? '' : apiKey.problem, /claim "sub" is missing: principal "team-a" authenticated without token claims/);
    const anonymous = resolveAs(values, '${claim:sub}');
    assert.match(anonymous.ok ? '' : anonymous.problem, /needs an authenticated caller/);
  });

  it('sends the calling principal\'s stored credential, and says how to add a missing one', () => {
    const stored = new Map([['team-a/gh', 'ghp_team_a'], ['oidc:u1/gh', ADMIN_KEY]]);
    const values = valuesWith({
      protectedValues: [ADMIN_KEY],
      credentials: {
        credential: (principal, name) => {
          const value = stored.get(`${principal}/${name}`);
          return value === undefined ? undefined : { ok: true, value };
        },
      },
    });
    assert.deepEqual(resolveAs(values, 'token ${principal:gh}', apiKeyCaller), { ok: true, value: 'token ghp_team_a' });
    const absent = resolveAs(values, '${principal:other}', apiKeyCaller);
    assert.deepEqual(absent, {
      ok: false,
      problem: 'no credential "other" stored for principal "team-a"; an admin can add it with PUT /admin/credentials/team-a/other',
    });
    // An admin who stored one of the gateway's own keys as a credential does not get it sent.
    const guarded = resolveAs(values, '${principal:gh}', withClaims);
    assert.match(guarded.ok ? '' : guarded.problem, /holds one of the gateway's own credentials/);
    assert.doesNotMatch(JSON.stringify(guarded), new RegExp(ADMIN_KEY));
    const anonymous = resolveAs(values, '${principal:gh}');
    assert.match(anonymous.ok ? '' : anonymous.problem, /needs an authenticated caller/);
  });

  it('parses only well-formed names', () => {
    for (const good of ['${claim:sub}', '${claim:https://example.com/roles}', '${principal:github_token}', '${principal:a.b-c}']) parseEnvTemplate(good, 'h');
    for (const bad of ['${claim:a b}', '${claim:}', '${principal:a/b}', `\${principal:${'n'.repeat(65)}}`, '${principal:.hidden}']) {
      assert.throws(() => parseEnvTemplate(bad, 'h'), /must start a reference/, bad);
    }
  });
});
