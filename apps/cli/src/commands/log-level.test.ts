// `dynmcp log-level`, the built binary against a real gateway process on SQLite: it shows the level,
// sets an override for a while and ends it. Bad words are refused before anything is sent; a gateway
// older than the route, and one that stored a write without applying it in time, are stand-ins that
// answer as those gateways do (the server's tests cover the stalled feed behind `applied: false`).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_KEY, makeCliHome, runCli, startGateway, type CliHome, type GatewayProcess } from '../test-support/cli-harness.js';

let dataDir: string;
let gateway: GatewayProcess;
let home: CliHome;
let env: Record<string, string>;

interface State {
  level: string;
  configured: string;
  override: { level: string; expires_at: string; set_by?: string; revision: number } | null;
  applied?: boolean;
}

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(['log-level', ...args], { ...env, ...extra });
const json = async (args: string[]) => {
  const run = await cli([...args, '-o', 'json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as State;
};

/** An HTTP server answering every request with `answer(req)`; `hits` counts what reached it. */
async function standIn(answer: (req: IncomingMessage) => { status: number; body: unknown }) {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    const { status, body } = answer(req);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'dynmcp-cli-log-level-'));
  gateway = await startGateway(dataDir);
  home = makeCliHome();
  env = { ...home.env, DYNMCP_URL: gateway.url, DYNMCP_API_KEY: ADMIN_KEY };
});

after(async () => {
  await gateway?.stop();
  home?.remove();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('dynmcp log-level', { concurrency: false }, () => {
  test('shows the level, the configured level and no override', async () => {
    const run = await cli([]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'level       info\nconfigured  info\noverride    none\n');
    assert.equal(run.stderr, '');
  });

  test('sets a level for a while: the override, when it ends in local time, and who set it', async () => {
    const set = await cli(['debug', '--for', '10m']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^set: debug until (tomorrow )?\d\d:\d\d:\d\d \((10m|9m 59s) left\), set by \S+, revision \d+; then back to info\n$/);

    const state = await json([]);
    assert.equal(state.level, 'debug');
    assert.equal(state.configured, 'info');
    assert.equal(state.override?.level, 'debug');
    const left = (Date.parse(state.override?.expires_at ?? '') - Date.now()) / 1000;
    assert.ok(left > 590 && left <= 600, `10m from now, got ${left} s`);

    // The end in the reader's time zone: five and a half hours ahead of UTC in Kolkata (no summer time).
    const ends = Date.parse(state.override?.expires_at ?? '');
    for (const [zone, offsetMs] of [['UTC', 0], ['Asia/Kolkata', 5.5 * 3600_000]] as const) {
      const shown = await cli([], { TZ: zone });
      assert.equal(shown.code, 0, shown.stderr);
      const time = new Date(ends + offsetMs).toISOString().slice(11, 19);
      assert.match(shown.stdout, new RegExp(`^override    debug until (tomorrow )?${time} \\(\\d+m( \\d+s)? left\\), set by \\S+, revision ${state.override?.revision}$`, 'm'), zone);
    }
  });

  test('durations: plain seconds, s, m, h and d; without --for the gateway\'s default, 15 minutes', async () => {
    for (const [duration, seconds] of [['90', 90], ['45s', 45], ['2h', 7200], ['1d', 86_400], [undefined, 900]] as const) {
      const state = await json(duration === undefined ? ['warn'] : ['warn', '--for', duration]);
      assert.equal(state.applied, true);
      assert.equal(state.level, 'warn');
      const left = (Date.parse(state.override?.expires_at ?? '') - Date.now()) / 1000;
      assert.ok(left > seconds - 10 && left <= seconds, `--for ${duration}: ${seconds} s from now, got ${left} s`);
    }
  });

  test('JSON output: the state as the gateway gives it, and applied for a write', async () => {
    const set = await json(['error', '--for', '5m']);
    assert.deepEqual(Object.keys(set), ['level', 'configured', 'override', 'applied']);
    assert.equal(set.applied, true);
    assert.equal(set.level, 'error');
    assert.deepEqual(Object.keys(set.override ?? {}).sort(), ['expires_at', 'level', 'revision', 'set_by']);
    const shown = await json([]);
    assert.deepEqual(shown, { level: 'error', configured: 'info', override: set.override }, 'show has no applied');
  });

  test('reset ends the override; with none left, it says so', async () => {
    const reset = await cli(['reset']);
    assert.equal(reset.code, 0, reset.stderr);
    assert.equal(reset.stdout, 'no override: log level info, the configured level\n');
    assert.deepEqual(await json([]), { level: 'info', configured: 'info', override: null });
    assert.deepEqual(await json(['reset']), { level: 'info', configured: 'info', override: null, applied: true });
  });

  test('a bad level or duration is refused before any request: exit 2, saying what to write', async () => {
    const gatewayNeverAsked = await standIn(() => ({ status: 500, body: {} }));
    const cases: Array<[string[], RegExp]> = [
      [['verbose'], /"verbose" is not a level; write one of error, warn, info, debug \(or reset to end the override\)/],
      [['DEBUG'], /"DEBUG" is not a level/],
      [['silent'], /"silent" only in the gateway's configuration: an override cannot hide errors/],
      [['debug', '--for', '1.5h'], /--for "1\.5h" is not a duration; write seconds \(600\) or a whole number with s, m, h or d \(90s, 10m, 2h, 1d\), from 1s to 1d/],
      [['debug', '--for', '10 minutes'], /--for "10 minutes" is not a duration/],
      [['debug', '--for', '-5'], /--for "-5" is not a duration/],
      [['debug', '--for', '1h30m'], /--for "1h30m" is not a duration/],
      [['debug', '--for', '0s'], /--for 0s is no time at all/],
      [['debug', '--for', '25h'], /--for 25h is longer than a day, the longest an override lasts; for a lasting level set log\.level/],
      [['debug', '--for', '86401'], /--for 86401 is longer than a day/],
      [['--for', '10m'], /--for needs a level: dynmcp log-level debug --for 10m/],
      [['reset', '--for', '10m'], /reset ends the override now; it takes no --for/],
    ];
    try {
      for (const [args, message] of cases) {
        const run = await cli(args, { DYNMCP_URL: gatewayNeverAsked.url });
        assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`);
        assert.match(run.stderr, message, args.join(' '));
        assert.equal(run.stdout, '');
      }
      assert.equal((await cli(['debug', 'extra'], { DYNMCP_URL: gatewayNeverAsked.url })).code, 2, 'a usage error of the parser');
      assert.deepEqual(gatewayNeverAsked.hits, [], 'nothing was sent');
    } finally {
      await gatewayNeverAsked.close();
    }
  });

  test('a gateway older than the command: it says so, exit 2', async () => {
    // What a gateway without the route answers: its admin router's NOT_FOUND.
    const older = await standIn((req) => ({
      status: 404,
      body: { code: 404, error: `no admin route ${req.method} ${req.url}`, error_code: 'NOT_FOUND' },
    }));
    try {
      for (const args of [[], ['debug'], ['reset']]) {
        const run = await cli(args, { DYNMCP_URL: older.url });
        assert.equal(run.code, 2, run.stdout);
        assert.equal(run.stderr, `dynmcp: the gateway at ${older.url} has no /admin/log-level: it is older than this command; upgrade it to change its log level without a restart\n`);
      }
      assert.deepEqual(older.hits, ['GET /admin/log-level', 'PUT /admin/log-level', 'DELETE /admin/log-level']);
    } finally {
      await older.close();
    }
  });

  test('a write stored but not applied in time: a warning on stderr, still exit 0', async () => {
    // The replica that answered had not applied the write: its state is still the one before it.
    const override = { level: 'debug', expires_at: new Date(Date.now() + 60_000).toISOString(), set_by: 'alice', revision: 7 };
    const lagging = await standIn((req) => ({
      status: 200,
      body: {
        code: 200,
        message: 'success',
        data: req.method === 'DELETE' ? { level: 'debug', configured: 'info', override } : { level: 'info', configured: 'info', override: null },
        meta: { applied: false },
      },
    }));
    try {
      const set = await cli(['debug', '--for', '10m'], { DYNMCP_URL: lagging.url });
      assert.equal(set.code, 0, set.stderr);
      assert.equal(set.stdout, 'stored: log level debug for 10m; the replica that answered still logs at info\n');
      assert.match(set.stderr, /^warning: the gateway stored this change but had not applied it when its wait ran out/);
      const setJson = await cli(['debug', '-o', 'json'], { DYNMCP_URL: lagging.url });
      assert.equal((JSON.parse(setJson.stdout) as State).applied, false);
      assert.match(setJson.stderr, /^warning: the gateway stored this change/);
      const reset = await cli(['reset'], { DYNMCP_URL: lagging.url });
      assert.equal(reset.code, 0, reset.stderr);
      assert.equal(reset.stdout, 'stored: no override; the replica that answered still logs at debug\n');
      assert.match(reset.stderr, /^warning: the gateway stored this change/);
    } finally {
      await lagging.close();
    }
  });
});
