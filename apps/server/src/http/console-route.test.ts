/**
 * The web console's static route (`/ui/`), over real HTTP against a test gateway serving the built
 * console: security and cache headers, traversal and unknown files refused, off with `ui.enabled`,
 * the defaults by environment, nothing loaded from another origin, and the build's bundle budget.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '@dynmcp/common';
import { consoleDir } from '@dynmcp/console';
import { freePort } from '@dynmcp/testing';
import { until } from '../test-support/fresh-connection.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ ui: { enabled: true } });
});
after(async () => {
  await gw.stop();
});

/** A GET with the request target exactly as given (fetch would resolve `..` segments first). */
function rawGet(target: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const { hostname, port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const builtAssets = () => readdirSync(join(consoleDir, 'assets'));

test('index.html: no-cache, a strict Content-Security-Policy, nosniff, no referrer', async () => {
  const res = await fetch(`${gw.url}/ui/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const csp = res.headers.get('content-security-policy') ?? '';
  for (const directive of ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) {
    assert.ok(csp.split('; ').includes(directive), `CSP has ${directive}: ${csp}`);
  }
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  const html = await res.text();
  assert.match(html, /<div id="app">/);
  // No inline script: every script has a src under /ui/assets/.
  assert.deepEqual([...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)].map((match) => match[1]?.trim()), ['']);
});

test('hashed assets are cached for a year as immutable, with their type, gzipped when asked', async () => {
  const html = await (await fetch(`${gw.url}/ui/`)).text();
  const script = /<script[^>]+src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, 'index.html loads a script from /ui/assets/');
  const plain = await rawGet(script);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(plain.headers['x-content-type-options'], 'nosniff');
  const zipped = await rawGet(script, { 'accept-encoding': 'gzip, br' });
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.deepEqual(gunzipSync(zipped.body), plain.body);
  const css = builtAssets().find((name) => name.endsWith('.css'));
  assert.ok(css);
  assert.equal((await rawGet(`/ui/assets/${css}`)).headers['content-type'], 'text/css; charset=utf-8');
});

test('/ui redirects to /ui/; client routes get index.html; HEAD has no body', async () => {
  const redirect = await rawGet('/ui');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, 'ui/', 'relative, so a path prefix in front of the gateway is kept');
  for (const route of ['/ui/tools', '/ui/instances/shop/', '/ui/index.html']) {
    const res = await rawGet(route);
    assert.equal(res.status, 200, route);
    assert.equal(res.headers['cache-control'], 'no-cache', route);
  }
  const head = await fetch(`${gw.url}/ui/`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('behind nginx mounting the gateway under /gateway/, /gateway/ui leads to the console at /gateway/ui/', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dynmcp-console-prefix-'));
  const port = await freePort();
  const conf = [
    'worker_processes 1;',
    'events { worker_connections 64; }',
    'http {',
    '  access_log off;',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    location /gateway/ { proxy_pass http://${new URL(gw.url).host}/; }`,
    '  }',
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'nginx.conf'), conf);
  let log = '';
  const nginx = spawn('nginx', ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  nginx.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    const entry = `http://127.0.0.1:${port}/gateway/ui`;
    await until('nginx answers', async () => (await fetch(entry, { redirect: 'manual' }).catch(() => undefined)) !== undefined, 10_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}; nginx said: ${log}`);
      },
    );
    const redirect = await fetch(entry, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    const target = new URL(redirect.headers.get('location') ?? '', entry);
    assert.equal(target.pathname, '/gateway/ui/');
    const page = await fetch(target);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  } finally {
    const exited = new Promise((resolve) => nginx.once('exit', resolve));
    if (nginx.exitCode === null && nginx.kill('SIGTERM')) await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('path traversal and unknown files are 404, never a file and never the app', async () => {
  for (const target of [
    '/ui/assets/../../package.json',
    '/ui/../package.json',
    '/ui/..%2f..%2fpackage.json',
    '/ui/%2e%2e/%2e%2e/package.json',
    '/ui/assets/%2e%2e%2findex.html',
    '/ui/assets/..%5c..%5cpackage.json',
    '/ui/assets/nope.js',
    '/ui/assets/',
    '/ui/favicon.ico',
    '/ui/vite.config.mjs',
    '/ui/assets/index.js%00.png',
  ]) {
    const res = await rawGet(target);
    assert.equal(res.status, 404, target);
    assert.doesNotMatch(res.body.toString(), /"name": "@dynmcp|<div id="app">/, target);
  }
  assert.equal((await fetch(`${gw.url}/ui/`, { method: 'POST' })).status, 404);
});

test('no file of the console loads anything from another origin', () => {
  const html = readFileSync(join(consoleDir, 'index.html'), 'utf8');
  for (const match of html.matchAll(/\b(?:src|href)="([^"]+)"/g)) {
    assert.match(match[1] as string, /^(\/ui\/assets\/|data:,$)/, `index.html refers to ${match[1]}`);
  }
  for (const name of builtAssets()) {
    const text = readFileSync(join(consoleDir, 'assets', name), 'utf8');
    // XML namespace names (SVG, MathML, XLink) are identifiers, never fetched.
    const urls = [...text.matchAll(/(?:https?:)?\/\/[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s"'`)]*/g)]
      .map((match) => match[0])
      .filter((url) => !/^http:\/\/www\.w3\.org\/(2000\/svg|1999\/xlink|1998\/Math\/MathML|XML\/1998\/namespace|1999\/xhtml)$/.test(url));
    assert.deepEqual(urls, [], `${name} names other origins`);
    assert.doesNotMatch(text, /@import|url\((?!["']?\/ui\/)/, `${name} imports or loads a URL`);
  }
});

test('ui.enabled false: /ui/ and its assets are 404', async () => {
  const off = await startTestGateway({ ui: { enabled: false } });
  try {
    assert.equal((await fetch(`${off.url}/ui/`)).status, 404);
    assert.equal((await fetch(`${off.url}/ui/assets/${builtAssets()[0]}`)).status, 404);
    assert.equal((await fetch(`${off.url}/healthz`)).status, 200);
  } finally {
    await off.stop();
  }
});

test('ui.enabled by environment: on in development, off in production, DYNMCP_UI wins', () => {
  const configDir = join(tmpdir(), 'dynmcp-no-config-files');
  const load = (env: Record<string, string>) => loadConfig({ env, configDir }).ui.enabled;
  assert.equal(load({}), true);
  assert.equal(load({ DYNMCP_ENV: 'development' }), true);
  assert.equal(load({ DYNMCP_ENV: 'production' }), false);
  assert.equal(load({ DYNMCP_ENV: 'production', DYNMCP_UI: 'true' }), true);
  assert.equal(load({ DYNMCP_ENV: 'development', DYNMCP_UI: 'false' }), false);
});

test('the console build fails when its JavaScript passes the budget', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'dynmcp-console-budget-'));
  try {
    const consoleRoot = fileURLToPath(new URL('../../../console/', import.meta.url));
    const vite = join(consoleRoot, 'node_modules/vite/bin/vite.js');
    const run = spawnSync(process.execPath, [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], {
      cwd: consoleRoot,
      env: { ...process.env, CONSOLE_JS_BUDGET_BYTES: '1024' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr + run.stdout, /over the budget of 1 KiB/);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});
