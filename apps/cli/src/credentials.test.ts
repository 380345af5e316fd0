// `dynmcp credentials`: the built binary against real gateway processes on one SQLite file. Values
// go in through stdin or a file, never the command line, and never come back out; `rotate` moves
// what is under a previous key and exits 1 when it had to leave something.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { makeCliHome, runCli, startGateway, type CliHome } from './test-support/cli-harness.js';

const OLD = randomBytes(32).toString('base64');
const NEW = randomBytes(32).toString('base64');
const VALUES = { alice: 'ghp_alice_cli_0001', bob: 'ghp_bob_cli_0002' };

let dataDir: string;
let home: CliHome;
let gateway: Awaited<ReturnType<typeof startGateway>>;
let env: Record<string, string>;

const cli = (args: string[], input?: string) => runCli(args, env, input);

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-credentials-'));
  gateway = await startGateway(dataDir, { DYNMCP_CREDENTIALS_KEY: OLD });
  home = makeCliHome();
  env = { ...home.env, DYNMCP_URL: gateway.url, DYNMCP_API_KEY: 'cli-test-admin-key-5309' };
});

after(async () => {
  await gateway?.stop();
  home?.remove();
  rmSync(dataDir, { recursive: true, force: true });
});

test('set reads the value from stdin or a file, list shows everything but the value, delete removes', async () => {
  assert.match((await cli(['credentials', 'list'])).stderr, /no credentials/);
  // The line break echo adds is dropped: the gateway refuses values holding one.
  const set = await cli(['credentials', 'set', 'alice', 'github_token'], `${VALUES.alice}\n`);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /^stored github_token for alice \(revision \d+, key [0-9a-f]{16}\)/);
  const file = home.file('bob-token.txt', `${VALUES.bob}\n`);
  assert.equal((await cli(['credentials', 'set', 'bob', 'github_token', '--value-file', file])).code, 0);

  const table = await cli(['credentials', 'list']);
  assert.match(table.stdout, /PRINCIPAL\s+NAME\s+KEY ID\s+UPDATED\s+REVISION/);
  assert.match(table.stdout, /alice\s+github_token\s+[0-9a-f]{16}/);
  const json = JSON.parse((await cli(['-o', 'json', 'credentials', 'list', 'bob'])).stdout) as Array<{ principal: string; name: string }>;
  assert.deepEqual(json.map((entry) => [entry.principal, entry.name]), [['bob', 'github_token']]);
  for (const run of [table, set]) for (const value of Object.values(VALUES)) assert.ok(!run.stdout.includes(value), 'no value is printed');

  const deleted = await cli(['credentials', 'delete', 'bob', 'github_token']);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /^deleted github_token of bob \(revision \d+\)/);
  assert.doesNotMatch((await cli(['credentials', 'list'])).stdout, /bob/);
});

test('bad input: no value, an empty file, a refused name, an unknown credential: exit 2 with the reason', async () => {
  const cases: Array<[string[], string | undefined, RegExp]> = [
    [['credentials', 'set', 'alice', 'token'], undefined, /nothing arrived on stdin/],
    [['credentials', 'set', 'alice', 'token'], '\n', /nothing arrived on stdin/],
    [['credentials', 'set', 'alice', 'token', '--value-file', home.file('empty.txt', '')], undefined, /is empty/],
    [['credentials', 'set', 'alice', 'token', '--value-file', join(home.dir, 'missing.txt')], undefined, /cannot read --value-file/],
    [['credentials', 'set', 'alice', 'bad name'], 'v', /INVALID_CREDENTIAL_NAME/],
    [['credentials', 'set', 'alice', 'token'], 'line\nbreak', /INVALID_PAYLOAD/],
    [['credentials', 'delete', 'alice', 'never_stored'], undefined, /CREDENTIAL_NOT_FOUND/],
  ];
  for (const [args, input, message] of cases) {
    const run = await cli(args, input);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
    assert.match(run.stderr, message);
  }
  const names = ((await cli(['-o', 'json', 'credentials', 'list', 'alice'])).stdout);
  assert.deepEqual((JSON.parse(names) as Array<{ name: string }>).map((entry) => entry.name), ['github_token'], 'nothing was written');
});

test('rotate moves what is under a previous key; it exits 1 when it leaves a record it cannot read', async () => {
  await gateway.stop();
  gateway = await startGateway(dataDir, { DYNMCP_CREDENTIALS_KEY: NEW, DYNMCP_CREDENTIALS_PREVIOUS_KEYS: OLD });
  env = { ...env, DYNMCP_URL: gateway.url };
  const rotated = await cli(['credentials', 'rotate']);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.match(rotated.stdout, /^1 re-encrypted, 0 already under key [0-9a-f]{16}/);
  const again = JSON.parse((await cli(['-o', 'json', 'credentials', 'rotate'])).stdout) as { rotated: number; current: number };
  assert.deepEqual([again.rotated, again.current], [0, 1]);

  // A second gateway on the same store, with a key the first does not know, stores one more.
  const stranger = await startGateway(dataDir, { DYNMCP_CREDENTIALS_KEY: randomBytes(32).toString('base64'), DYNMCP_CREDENTIALS_PREVIOUS_KEYS: NEW });
  try {
    const put = await runCli(['credentials', 'set', 'carol', 'token'], { ...env, DYNMCP_URL: stranger.url }, 'carol-value');
    assert.equal(put.code, 0, put.stderr);
  } finally {
    await stranger.stop();
  }
  let left = await cli(['credentials', 'rotate']);
  for (let attempt = 0; attempt < 50 && !left.stdout.includes('carol'); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = await cli(['credentials', 'rotate']);
  }
  assert.equal(left.code, 1, left.stdout + left.stderr);
  assert.match(left.stdout, /under no configured key, left alone: carol\/token/);
});
