// The built `dynmcp` binary against a real gateway process on SQLite and a real upstream on
// 127.0.0.1: every command as an operator or a CI job runs it, with a throw-away HOME.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, startUpstream, type TestUpstream } from '@dynmcp/testing';
import { ADMIN_KEY, makeCliHome, runCli, startGateway, type CliHome, type GatewayProcess } from './test-support/cli-harness.js';

let dataDir: string;
let gateway: GatewayProcess;
let upstream: TestUpstream;
let home: CliHome;
let env: Record<string, string>;

const tool = (id: string, path: string, description = `tool ${id}`) => ({
  kind: 'tool',
  id,
  name: id,
  description,
  input_schema: { type: 'object', properties: { query: { type: 'object', properties: { q: { type: 'string' } } } } },
  tds_ext_info: { domain: upstream.url, method: 'GET', path },
});

/** A folder of definitions: two tools in one YAML file (two documents), an instance in JSON. */
function writeDefinitions(dir: string, description = 'tool ping') {
  writeFileSync(
    join(dir, 'tools.yaml'),
    `# the tools\n${JSON.stringify(tool('ping', '/ping', description))}\n---\n${JSON.stringify(tool('fail', '/fail'))}\n`,
  );
  writeFileSync(join(dir, 'instance.json'), JSON.stringify({ kind: 'instance', id: 'demo', name: 'Demo', tool_ids: ['ping', 'fail'] }, null, 2));
}

const admin = (path: string) =>
  fetch(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).then(async (response) => ({
    status: response.status,
    body: (await response.json()) as { data: any },
  }));

/** A write as curl sends it, straight to the admin API. */
const adminWrite = (method: 'PUT' | 'DELETE', path: string, body?: unknown) =>
  fetch(`${gateway.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const storeRevision = async () => (await admin('/admin/status')).body.data.store_revision as number;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-gw-'));
  upstream = await startUpstream((hit, res) => {
    const failing = hit.url.startsWith('/fail');
    res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: hit.url, failing }));
  });
  gateway = await startGateway(dataDir);
  home = makeCliHome();
  home.writeConfig(`profiles:\n  default:\n    url: ${gateway.url}\n    key: ${ADMIN_KEY}\n  wrong-key:\n    url: ${gateway.url}\n    key: not-the-key\n`);
  env = home.env;
});

after(async () => {
  await gateway.stop();
  await upstream.close();
  home.remove();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('dynmcp', { concurrency: false }, () => {
  const defs = () => mkdtempSync(join(home.dir, 'defs-'));

  test('apply writes the files in one revision; applying them again writes nothing and says so', async () => {
    const dir = defs();
    writeDefinitions(dir);
    const before = await storeRevision();
    const first = await runCli(['apply', '-f', dir], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /\+ tool ping \(create\)/);
    assert.match(first.stdout, /\+ instance demo \(create\)/);
    assert.match(first.stdout, /3 created, 0 updated, 0 deleted, 0 unchanged/);
    const after = await storeRevision();
    assert.equal(after, before + 1, 'one store write for all three records');
    assert.equal((await admin('/admin/ids/demo')).body.data.name, 'Demo');

    const again = await runCli(['apply', '-f', dir], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to change: the gateway matches the files \(3 unchanged\)/);
    assert.equal(await storeRevision(), after, 're-applying wrote nothing');

    const json = await runCli(['apply', '-f', dir, '--output', 'json'], env);
    assert.deepEqual(JSON.parse(json.stdout).written, false);
  });

  test('status, tools and instances list and get; --output json for scripts', async () => {
    const status = await runCli(['status'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /store revision \d+/);
    assert.match(status.stdout, /REPLICA\s+HOST\s+VERSION\s+APPLIED\s+LAG/);
    const statusJson = JSON.parse((await runCli(['status', '-o', 'json'], env)).stdout);
    assert.equal(statusJson.replicas.length, 1);
    assert.equal(statusJson.replicas[0].lag, 0);

    const tools = await runCli(['tools', 'list'], env);
    assert.match(tools.stdout, /^ID\s+NAME\s+KIND\s+TARGET$/m);
    assert.match(tools.stdout, /^ping\s+ping\s+http\s+GET http:\/\/127\.0\.0\.1:\d+\/ping$/m);
    const ids = JSON.parse((await runCli(['tools', 'list', '--output', 'json'], env)).stdout).map((record: { id: string }) => record.id);
    assert.deepEqual(ids, ['fail', 'ping']);

    const instance = await runCli(['instances', 'get', 'demo'], env);
    assert.match(instance.stdout, /^# revision \d+.*\nkind: instance\nid: demo\nname: Demo\n/);
    assert.match((await runCli(['tools', 'get', 'ping'], env)).stdout, /^# revision \d+.*\nkind: tool\nid: ping\n/);
    // Written without an id in the body, as curl users do, a record comes back from the gateway
    // with its id last: get still prints kind, then id.
    assert.equal((await adminWrite('PUT', '/admin/ids/by-curl', { name: 'By curl', tool_ids: ['ping'] })).status, 200);
    try {
      const byCurl = await runCli(['instances', 'get', 'by-curl'], env);
      assert.match(byCurl.stdout, /^# revision \d+.*\nkind: instance\nid: by-curl\nname: By curl\n/, byCurl.stdout);
      const byCurlJson = JSON.parse((await runCli(['instances', 'get', 'by-curl', '-o', 'json'], env)).stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(byCurlJson).slice(0, 2), ['kind', 'id']);
    } finally {
      await adminWrite('DELETE', '/admin/ids/by-curl');
    }
    const toolJson = JSON.parse((await runCli(['tools', 'get', 'ping', '-o', 'json'], env)).stdout);
    assert.deepEqual(toolJson, tool('ping', '/ping'));
    assert.match((await runCli(['instances', 'list'], env)).stdout, /^demo\s+Demo\s+2$/m);
  });

  test('diff exits 0 when the gateway matches, 1 with a per-record diff when it differs', async () => {
    const dir = defs();
    writeDefinitions(dir);
    const same = await runCli(['diff', '-f', dir], env);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /no differences/);

    writeDefinitions(dir, 'pings the upstream');
    writeFileSync(join(dir, 'extra.yaml'), `${JSON.stringify(tool('extra', '/extra'))}\n`);
    const differs = await runCli(['diff', '-f', dir], env);
    assert.equal(differs.code, 1, differs.stderr);
    assert.match(differs.stdout, /~ tool ping \(update\)/);
    assert.match(differs.stdout, /- description: tool ping/);
    assert.match(differs.stdout, /\+ description: pings the upstream/);
    assert.match(differs.stdout, /\+ tool extra \(create\)/);
    assert.match(differs.stdout, /1 to create, 1 to update, 0 to delete/);
    const json = JSON.parse((await runCli(['diff', '-f', dir, '-o', 'json'], env)).stdout);
    assert.equal(json.differs, true);
    assert.deepEqual(json.updated, [{ kind: 'tool', id: 'ping' }]);
  });

  test('--prune deletes what the files leave out only with --yes when not on a terminal', async () => {
    const dir = defs();
    writeDefinitions(dir);
    home.file('stray.yaml', JSON.stringify(tool('stray', '/stray')));
    assert.equal((await runCli(['apply', '-f', join(home.dir, 'stray.yaml')], env)).code, 0);

    const note = await runCli(['apply', '-f', dir], env);
    assert.match(note.stderr, /1 record\(s\) on the gateway are not in the files \(--prune deletes them\): tool stray/);

    const refused = await runCli(['apply', '-f', dir, '--prune'], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--prune would delete 1 record\(s\) \(tool stray\); add --yes/);
    assert.equal((await admin('/admin/tds/stray')).status, 200, 'nothing was deleted');

    const dry = await runCli(['apply', '-f', dir, '--prune', '--dry-run'], env);
    assert.match(dry.stdout, /- tool stray \(delete\)/);
    assert.equal((await admin('/admin/tds/stray')).status, 200);

    const pruned = await runCli(['apply', '-f', dir, '--prune', '--yes'], env);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /1 deleted/);
    assert.equal((await admin('/admin/tds/stray')).status, 404);
  });

  test('export writes one YAML file per record; applying the export changes nothing', async () => {
    const out = join(home.dir, 'export');
    const exported = await runCli(['export', out], env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual(readdirSync(join(out, 'tools')).sort(), ['fail.yaml', 'ping.yaml']);
    assert.deepEqual(readdirSync(join(out, 'instances')), ['demo.yaml']);
    assert.match(readFileSync(join(out, 'tools', 'ping.yaml'), 'utf8'), /^kind: tool\nid: ping\n/);
    assert.match(readFileSync(join(out, 'instances', 'demo.yaml'), 'utf8'), /^kind: instance\nid: demo\n/);
    const before = await storeRevision();
    const applied = await runCli(['apply', '-f', out, '--prune'], env);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /nothing to change/);
    assert.equal(await storeRevision(), before);
    assert.equal((await runCli(['diff', '-f', out, '--prune'], env)).code, 0);
  });

  test('a bad YAML file is refused naming file:line, and nothing is written', async () => {
    const dir = defs();
    writeDefinitions(dir);
    const bad = join(dir, 'broken.yaml');
    writeFileSync(bad, 'kind: tool\nid: broken\nname: [unclosed\n');
    const before = await storeRevision();
    const run = await runCli(['apply', '-f', dir], env);
    assert.equal(run.code, 2);
    assert.match(run.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
    writeFileSync(bad, 'kind: tool\nname: no-id\n---\nkind: widget\nid: w\n');
    assert.match((await runCli(['diff', '-f', bad], env)).stderr, /broken\.yaml:1:1: id is required/);
    writeFileSync(bad, '---\nkind: widget\nid: w\n');
    assert.match((await runCli(['diff', '-f', bad], env)).stderr, /broken\.yaml:2:1: kind must be "tool" or "instance", got "widget"/);
    writeFileSync(bad, `${JSON.stringify(tool('ping', '/ping'))}\n`);
    assert.match((await runCli(['diff', '-f', dir], env)).stderr, /tools\.yaml:2:1: tool "ping" is already defined at .*broken\.yaml:1:1/);
    assert.equal(await storeRevision(), before);
  });

  test('a write the gateway refuses shows its error_code and message, exit 2, nothing written', async () => {
    const file = home.file('refused.yaml', 'kind: tool\nid: refused\nname: refused\ninput_schema: { type: object }\ntds_ext_info: { method: GET }\n---\nkind: tool\nid: fine\nname: fine\ninput_schema: { type: object }\ntds_ext_info: { domain: "http://127.0.0.1:9", method: GET, path: /x }\n');
    const run = await runCli(['apply', '-f', file], env);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /the gateway refused POST \/admin\/batch: INVALID_PAYLOAD \(400\): batch operation \d \(tds "refused"\)/);
    assert.equal((await admin('/admin/tds/fine')).status, 404, 'the batch is atomic');
    const missing = await runCli(['tools', 'get', 'nope'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /TOOL_NOT_FOUND \(404\): no tool with id "nope"/);
    const wrongKey = await runCli(['tools', 'list', '--profile', 'wrong-key'], env);
    assert.equal(wrongKey.code, 2);
    assert.match(wrongKey.stderr, /UNAUTHORIZED \(401\).*give an admin key/);
  });

  test('profiles: flags and variables win over the profile, an unknown profile is an error', async () => {
    const noConfig = { HOME: join(home.dir, 'nobody'), XDG_CONFIG_HOME: join(home.dir, 'nobody', 'xdg') };
    const viaEnv = await runCli(['tools', 'list', '-o', 'json'], { ...noConfig, DYNMCP_URL: gateway.url, DYNMCP_API_KEY: ADMIN_KEY });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const viaFlags = await runCli(['--url', gateway.url, '--key', ADMIN_KEY, 'instances', 'list', '-o', 'json'], noConfig);
    assert.equal(viaFlags.code, 0, viaFlags.stderr);
    const keyOverProfile = await runCli(['tools', 'list', '--profile', 'wrong-key'], { ...env, DYNMCP_API_KEY: ADMIN_KEY });
    assert.equal(keyOverProfile.code, 0, keyOverProfile.stderr);
    const unknown = await runCli(['status', '--profile', 'staging'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no profile "staging" in .*xdg\/dynmcp\/config\.yaml; known: default, wrong-key/);
    // Without XDG_CONFIG_HOME the profiles live in ~/.config.
    const plainHome = makeCliHome();
    try {
      plainHome.file('.config/dynmcp/config.yaml', `profiles:\n  default:\n    url: ${gateway.url}\n    key: ${ADMIN_KEY}\n`);
      const run = await runCli(['status'], { HOME: plainHome.dir });
      assert.equal(run.code, 0, run.stderr);
    } finally {
      plainHome.remove();
    }
  });

  test('profiles: a key the file does not know is refused, naming the file, the profile and the key', async () => {
    const typo = makeCliHome();
    try {
      // `uri` for `url`: ignoring it would send the key to the default URL, perhaps someone else's gateway.
      typo.writeConfig(`profiles:\n  default:\n    uri: ${gateway.url}\n    key: ${ADMIN_KEY}\n`);
      const misspelt = await runCli(['status'], typo.env);
      assert.equal(misspelt.code, 2, misspelt.stdout);
      assert.match(misspelt.stderr, /^dynmcp: .*xdg\/dynmcp\/config\.yaml: unknown key "uri" in profile "default"; the known keys are url, key\n$/);
      // Refused even when a flag names the gateway: the file is wrong whatever this run uses of it.
      assert.equal((await runCli(['status', '--url', gateway.url], typo.env)).code, 2);

      typo.writeConfig(`profile:\n  default:\n    url: ${gateway.url}\n`);
      const topLevel = await runCli(['status'], typo.env);
      assert.equal(topLevel.code, 2);
      assert.match(topLevel.stderr, /config\.yaml: unknown key "profile" at the top level; the known keys are profiles\n$/);

      typo.writeConfig(`profiles:\n  default: ${gateway.url}\n`);
      const notMapping = await runCli(['status'], typo.env);
      assert.equal(notMapping.code, 2);
      assert.match(notMapping.stderr, /config\.yaml: profiles\.default must be a mapping of url, key\n$/);
    } finally {
      typo.remove();
    }
  });

  test('a gateway that is down: a clear message and exit 2', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const run = await runCli(['status', '--url', down], env);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+ \(connection refused\); is it running\?/);
    const call = await runCli(['call', 'demo', 'ping', '--url', down], env);
    assert.equal(call.code, 2);
    assert.match(call.stderr, /cannot reach the gateway/);
  });

  test('call: a tool through /mcp/<instance>, --arg typed by the schema; a tool error exits 1', async () => {
    const ok = await runCli(['call', 'demo', 'ping', '--arg', 'query.q=42'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /"path":"\/ping\?q=42"/);
    const json = await runCli(['call', 'demo', 'ping', '--json', '{"query":{"q":"x y"}}', '-o', 'json'], env);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).isError ?? false, false);
    assert.match(upstream.hits.at(-1)!.url, /^\/ping\?q=x(\+|%20)y$/);
    const failed = await runCli(['call', 'demo', 'fail'], env);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stderr, /fail answered with a tool error/);
    const unknown = await runCli(['call', 'demo', 'nope'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /instance demo has no tool named "nope"; it has: /);
  });

  test('call ends its MCP session: five calls in a row under a cap of two sessions per caller, no session left open', async () => {
    // A gateway of its own: the cap is per replica and caller, and the suite's gateway has its own count.
    const cappedDir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-capped-'));
    const capped = await startGateway(cappedDir, { DYNMCP_MAX_SESSIONS_PER_PRINCIPAL: '2' });
    const openSessions = async () => {
      const response = await fetch(`${capped.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      assert.equal(response.status, 200);
      const line = /^dynmcp_sessions (\d+)$/m.exec(await response.text());
      assert.ok(line, 'GET /metrics has dynmcp_sessions');
      return Number(line[1]);
    };
    try {
      const dir = defs();
      writeDefinitions(dir);
      const applied = await runCli(['apply', '-f', dir, '--url', capped.url], env);
      assert.equal(applied.code, 0, applied.stderr);
      assert.equal(await openSessions(), 0);
      for (let run = 1; run <= 5; run += 1) {
        const called = await runCli(['call', 'demo', 'ping', '--arg', `query.q=${run}`, '--url', capped.url], env);
        assert.equal(called.code, 0, `call ${run}: ${called.stderr}`);
        assert.match(called.stdout, new RegExp(`"path":"/ping\\?q=${run}"`));
        assert.equal(called.stderr, '', `call ${run} has nothing to say on stderr`);
      }
      assert.equal(await openSessions(), 0, 'every call ended the session it opened');

      // A gateway that will not end the session (here a proxy refusing DELETE): the call still succeeds, with a note.
      const refusing = createServer((req, res) => {
        if (req.method === 'DELETE') return void res.writeHead(500).end();
        const forward = request(new URL(req.url ?? '/', capped.url), { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        req.pipe(forward);
      });
      await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
      try {
        const proxied = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
        const kept = await runCli(['call', 'demo', 'ping', '--url', proxied], env);
        assert.equal(kept.code, 0, kept.stderr);
        assert.match(kept.stdout, /"path":"\/ping"/);
        assert.match(kept.stderr, /^note: could not end MCP session \S+ \(.+\); the gateway drops it once idle\n$/);
      } finally {
        refusing.closeAllConnections();
        await new Promise((resolve) => refusing.close(resolve));
      }
    } finally {
      await capped.stop();
      rmSync(cappedDir, { recursive: true, force: true });
    }
  });

  test('import openapi: the plan printed, a dry run writes nothing', async () => {
    const doc = home.file(
      'petstore.yaml',
      `openapi: 3.0.3\ninfo: { title: Pets, version: "1" }\nservers: [{ url: "${upstream.url}" }]\npaths:\n  /pets:\n    get:\n      operationId: listPets\n      responses: { "200": { description: ok } }\n    trace:\n      operationId: tracePets\n      responses: { "200": { description: ok } }\n`,
    );
    const dry = await runCli(['import', 'openapi', doc, '--instance', 'pets', '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^created\s+pets\.listPets$/m);
    assert.match(dry.stdout, /skipped TRACE \/pets/);
    assert.match(dry.stdout, /dry run, nothing written/);
    assert.equal((await admin('/admin/ids/pets')).status, 404);
    const real = await runCli(['import', 'openapi', doc, '--instance', 'pets', '-o', 'json'], env);
    assert.equal(real.code, 0, real.stderr);
    assert.deepEqual(JSON.parse(real.stdout).created, ['pets.listPets']);
    const again = await runCli(['import', 'openapi', doc, '--instance', 'pets'], env);
    assert.match(again.stdout, /^unchanged\s+pets\.listPets$/m);
    const bad = await runCli(['import', 'openapi', doc, '--instance', 'pets', '--auth', 'nonsense'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--auth takes scheme=template/);
  });

  test('completion scripts name the commands; usage errors exit 2', async () => {
    const bash = await runCli(['completion', 'bash'], env);
    assert.match(bash.stdout, /complete -o default -F _dynmcp dynmcp/);
    assert.match(bash.stdout, /"tools"\) words="list get delete/);
    assert.match((await runCli(['completion', 'zsh'], env)).stdout, /^#compdef dynmcp/);
    assert.match((await runCli(['completion', 'fish'], env)).stdout, /complete -c dynmcp -n '__fish_use_subcommand' -a apply/);
    assert.equal((await runCli(['completion', 'tcsh'], env)).code, 2);
    assert.equal((await runCli(['apply'], env)).code, 2, 'apply without -f');
    assert.equal((await runCli(['--version'], env)).code, 0);
  });

  test('a write the gateway stored but had not applied in time: the CLI says so on stderr and still succeeds', async () => {
    // What a gateway whose store feed is behind answers (its admin service sets `applied: false`
    // when its wait runs out; that side is tested over a stalled feed in the server's tests).
    const answers: Record<string, unknown> = {
      'DELETE /admin/tds/late': { code: 200, message: 'success', data: null, meta: { revision: 9, used_by: [], applied: false } },
      'DELETE /admin/tds/prompt': { code: 200, message: 'success', data: null, meta: { revision: 10, used_by: [], applied: true } },
    };
    const lagging = createServer((req, res) => {
      const answer = answers[`${req.method} ${req.url}`];
      res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer ?? { code: 404, error: 'no such route', error_code: 'NOT_FOUND' }));
    });
    await new Promise<void>((resolve) => lagging.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(lagging.address() as AddressInfo).port}`;
    try {
      const late = await runCli(['tools', 'delete', 'late', '--url', url], env);
      assert.equal(late.code, 0, late.stderr);
      assert.match(late.stdout, /deleted tool late \(revision 9\)/);
      assert.match(late.stderr, /warning: the gateway stored this change but had not applied it when its wait ran out/);
      const json = await runCli(['tools', 'delete', 'late', '--url', url, '--output', 'json'], env);
      assert.equal(JSON.parse(json.stdout).applied, false, 'JSON output carries the flag');
      assert.match(json.stderr, /warning: the gateway stored this change/);
      const prompt = await runCli(['tools', 'delete', 'prompt', '--url', url], env);
      assert.equal(prompt.code, 0, prompt.stderr);
      assert.equal(prompt.stderr, '', 'an applied write warns of nothing');
    } finally {
      await new Promise((resolve) => lagging.close(resolve));
    }
  });
});
