/**
 * The web console in real Chromium (Debian's, driven by playwright-core), against a real test
 * gateway (SQLite) and a real upstream on 127.0.0.1: sign-in, tools, instances, the playground
 * (a test call and a call through /mcp that both reach the upstream), OpenAPI import preview and
 * apply, a live update from an API write without reload, an API error beside its field, rollback,
 * the log level override, keyboard focus, and an axe-core scan of every page. One browser for the
 * whole file.
 *
 * With DYNMCP_SCREENSHOTS=1 the pages are also saved as docs/images/console-*.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createLogger } from '@dynmcp/common';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { startTestGateway, TEST_KEY, type TestGateway } from '../test-support/test-gateway.js';

const VIEWER_KEY = 'viewer-key-0001';
const SCREENSHOTS = process.env.DYNMCP_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../../../docs/images/', import.meta.url)) : undefined;
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let upstream: TestUpstream;
let gw: TestGateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const cspViolations: string[] = [];

before(async () => {
  upstream = await startUpstream();
  // The gateway's own logger (at warn, its lines dropped): only a logger whose level can change gives the gateway /admin/log-level.
  const dropped = new Writable({ write: (_chunk, _encoding, done) => done() });
  gw = await startTestGateway(
    { ui: { enabled: true }, auth: { keys: [{ id: 'viewer', key: VIEWER_KEY, instances: '*' }] } },
    { logger: createLogger({ level: 'warn', stream: dropped }) },
  );
  // playwright-core gives the browser a fresh profile of its own.
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, permissions: ['clipboard-read', 'clipboard-write'] });
  page = await context.newPage();
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
});

after(async () => {
  await browser?.close();
  await gw?.stop();
  await upstream?.close();
});

/** Runs axe-core on the page as it is; fails on serious or critical violations. */
async function axe(name: string): Promise<void> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (a script tag would be refused).
  await page.evaluate(`${AXE_SOURCE}\n;undefined`);
  const violations = (await page.evaluate(async () => {
    const scope = globalThis as any;
    const result = await scope.axe.run(scope.document, { resultTypes: ['violations'] });
    return result.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n: any) => n.html).slice(0, 3) }));
  })) as Array<{ id: string; impact: string; nodes: string[] }>;
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${name}: axe violations ${JSON.stringify(bad, null, 2)}`);
}

/** Saves the page (from its top, unless `keepScroll`) as docs/images/console-<name>.png when asked to. */
async function shot(name: string, keepScroll = false): Promise<void> {
  if (SCREENSHOTS === undefined) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  if (!keepScroll) await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `console-${name}.png`), fullPage: false });
}

const go = (route: string) => page.evaluate((hash) => ((globalThis as any).location.hash = hash), route);
const announced = (text: string | RegExp) => page.getByTestId('announcer').filter({ hasText: text }).waitFor({ timeout: 5_000 });

test('sign-in: a non-admin key is told why; an admin key signs in and stays out of the URL', async () => {
  await page.goto(`${gw.url}/ui/`);
  await axe('sign-in');
  await page.getByLabel('Admin key').fill(VIEWER_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('it is not an admin key').waitFor();
  assert.match(await page.locator('#admin-key-error').innerText(), /cannot manage the gateway/);
  await shot('sign-in');
  await page.getByLabel('Admin key').fill(TEST_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('dynmcp.console.key')), TEST_KEY);
  assert.equal(await page.evaluate(() => (globalThis as any).localStorage.length), 0);
  assert.ok(!page.url().includes(TEST_KEY));
  // Live through the event stream (GET /admin/events).
  await page.locator('[data-testid="live"][data-mode="live"]').waitFor();
});

test('keyboard: Tab reaches the skip link and the pages, with a visible focus ring', async () => {
  // A fresh load puts the focus at the start of the document; the key stays in the tab's session storage.
  await page.reload();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const element = (globalThis as any).document.activeElement;
    const style = (globalThis as any).getComputedStyle(element);
    return { text: element.textContent, outline: style.outlineStyle, width: style.outlineWidth };
  });
  assert.equal(focused.text, 'Instances');
  assert.notEqual(focused.outline, 'none');
  assert.notEqual(focused.width, '0px');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/tools$/);
});

test('tools: create one, see local and API errors beside their fields', async () => {
  await go('#/tools/+new');
  await page.getByLabel('Id', { exact: true }).fill('echo');
  await page.getByLabel('Name', { exact: true }).fill('echo_item');
  await page.getByLabel('Description').fill('Echoes an item');
  await page.getByLabel('Input schema (JSON Schema)').fill('{ "type": "object", "properties": { "path": ');
  await page.getByTestId('tool-input-schema-error').filter({ hasText: 'not valid JSON' }).waitFor();
  await page.getByLabel('Input schema (JSON Schema)').fill(
    JSON.stringify({
      type: 'object',
      properties: { path: { type: 'object', properties: { item: { type: 'string', description: 'Which item' } }, required: ['item'] } },
      required: ['path'],
    }),
  );
  // Refused by the write-time check only (the published schema allows any domain text): the API's message shows under the field.
  await page.getByLabel('Upstream (tds_ext_info)').fill(JSON.stringify({ domain: 'ftp://files.invalid', method: 'GET', path: '/items/{item}' }));
  await page.getByRole('button', { name: 'Create tool' }).click();
  await page.getByTestId('tool-upstream-error').filter({ hasText: 'only http and https are allowed' }).waitFor();
  assert.equal(await page.getByLabel('Upstream (tds_ext_info)').getAttribute('aria-invalid'), 'true');
  await page.getByTestId('tool-upstream-error').scrollIntoViewIfNeeded();
  await shot('tool-error', true);
  assert.equal((await gw.admin('GET', '/admin/tds/echo')).status, 404);

  await page.getByLabel('Upstream (tds_ext_info)').fill(JSON.stringify({ domain: upstream.url, method: 'GET', path: '/items/{item}' }, null, 2));
  await page.getByRole('button', { name: 'Create tool' }).click();
  await announced('Saved tool echo.');
  await page.waitForURL(/#\/tools\/echo$/);
  const stored = await gw.admin('GET', '/admin/tds/echo');
  assert.equal(stored.status, 200);
  assert.equal(stored.body.data.name, 'echo_item');
  assert.equal(stored.body.data.tds_ext_info.domain, upstream.url);
  await page.getByTestId('tool-list').getByText('echo_item').waitFor();
  await shot('tools');
  await axe('tools');
});

test('instances: attach the tool, see the MCP URL and client configurations', async () => {
  await go('#/instances/+new');
  await page.getByLabel('Id', { exact: true }).fill('shop');
  await page.getByLabel('Name', { exact: true }).fill('Shop');
  await page.getByLabel('Search tools to add').fill('echo');
  await page.getByLabel('echo_item (echo)').check();
  await page.getByRole('button', { name: 'Create instance' }).click();
  await announced('Saved instance shop.');
  await page.waitForURL(/#\/instances\/shop$/);
  assert.deepEqual((await gw.admin('GET', '/admin/ids/shop')).body.data.tool_ids, ['echo']);
  assert.equal(await page.getByTestId('mcp-url').innerText(), `${gw.url}/mcp/shop`);
  const configs = await page.locator('.snippet pre').allInnerTexts();
  assert.equal(configs.length, 4);
  assert.match(configs[0] as string, /"mcp-remote",\s*"http:\/\/127\.0\.0\.1:\d+\/mcp\/shop"/);
  assert.match(configs[1] as string, /"url": "http:\/\/127\.0\.0\.1:\d+\/mcp\/shop"/);
  assert.match(configs[2] as string, /"type": "http"/);
  assert.match(configs[3] as string, /inspector --cli http:\/\/127\.0\.0\.1:\d+\/mcp\/shop --transport http/);
  assert.ok(configs.every((text) => !text.includes(TEST_KEY)), 'no snippet holds the signed-in key');
  const connect = page.getByRole('region', { name: 'Connect a client' });
  await connect.getByRole('button', { name: 'Copy the MCP URL of shop' }).click();
  await connect.getByRole('button', { name: 'Copied the MCP URL of shop' }).waitFor();
  assert.equal(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText()), `${gw.url}/mcp/shop`);
  assert.equal(await page.getByTestId('instance-table').getByRole('button', { name: 'Copy the MCP URL of shop' }).count(), 1);
  await shot('instances');
  await axe('instances');
});

test('playground: a test call and a call through /mcp both reach the upstream', async () => {
  await go('#/playground/shop/echo');
  await page.getByLabel('item (required)').fill('widget');
  upstream.hits.length = 0;
  await page.getByRole('button', { name: 'Test call', exact: true }).click();
  await page.getByTestId('play-outcome').filter({ hasText: 'Test call of echo_item (echo' }).waitFor();
  assert.match(await page.getByLabel('Upstream request').innerText(), new RegExp(`"url": "${upstream.url}/items/widget"`));
  assert.match(await page.getByLabel('Tool result').innerText(), /items\/widget/);
  assert.deepEqual(upstream.hits.map((hit) => hit.url), ['/items/widget']);

  await page.getByRole('button', { name: 'Call through the MCP endpoint' }).click();
  await page.getByTestId('play-outcome').filter({ hasText: 'MCP call: HTTP 200' }).waitFor();
  const answer = await page.getByLabel('MCP answer').innerText();
  assert.match(answer, /"jsonrpc": "2.0"/);
  assert.match(answer, /items\/widget/);
  assert.doesNotMatch(await page.getByLabel('MCP request').innerText(), new RegExp(TEST_KEY));
  assert.deepEqual(upstream.hits.map((hit) => hit.url), ['/items/widget', '/items/widget']);
  await shot('playground');
  await axe('playground');
});

test('import: preview writes nothing, apply writes the tools and instance', async () => {
  const document = {
    openapi: '3.0.3',
    info: { title: 'Pets', version: '1' },
    servers: [{ url: upstream.url }],
    paths: {
      '/pets': { get: { operationId: 'listPets', responses: { 200: { description: 'ok' } } } },
      '/pets/{id}': {
        get: { operationId: 'getPet', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'ok' } } },
      },
    },
  };
  await go('#/import');
  await page.getByLabel('…or paste the document').fill(JSON.stringify(document, null, 2));
  await page.getByLabel('Instance id').fill('pets');
  await page.getByRole('button', { name: 'Preview import' }).click();
  await page.getByTestId('import-plan').filter({ hasText: 'Preview (nothing written yet)' }).waitFor();
  await page.getByRole('heading', { name: 'Created (2)' }).waitFor();
  assert.equal((await gw.admin('GET', '/admin/ids/pets')).status, 404);
  await shot('import');
  await axe('import');
  await page.getByRole('button', { name: 'Apply import' }).click();
  await page.getByTestId('import-plan').filter({ hasText: 'Applied at revision' }).waitFor();
  const instance = await gw.admin('GET', '/admin/ids/pets');
  assert.equal(instance.status, 200);
  assert.equal((await gw.admin('GET', '/admin/tds/pets.listPets')).status, 200);
});

test('live: a write through the API shows within 1 s, without a reload', async () => {
  await go('#/tools');
  await page.getByTestId('tool-list').waitFor();
  await page.evaluate(() => ((globalThis as any).sameDocumentMarker = true));
  const written = Date.now();
  const put = await gw.admin('PUT', '/admin/tds/live-tool', {
    name: 'live_tool',
    input_schema: { type: 'object' },
    tds_ext_info: { domain: upstream.url, method: 'GET', path: '/live' },
  });
  assert.equal(put.status, 200);
  await page.getByTestId('tool-list').getByText('live_tool').waitFor({ timeout: 1_000 });
  assert.ok(Date.now() - written < 1_000);
  await gw.admin('DELETE', '/admin/tds/live-tool');
  await page.getByTestId('tool-list').getByText('live_tool').waitFor({ state: 'detached', timeout: 1_000 });
  assert.equal(await page.evaluate(() => (globalThis as any).sameDocumentMarker), true, 'the page was not reloaded');
});

test('history: the diff of a change, and a rollback to an earlier version', async () => {
  const first = await gw.admin('GET', '/admin/tds/echo');
  const firstRevision = Number(JSON.parse(first.headers.get('etag') ?? '0'));
  await gw.admin('PUT', '/admin/tds/echo', { ...first.body.data, description: 'Echoes an item, second version' });
  await go('#/history/tds/echo');
  await page.getByTestId('history-diff').filter({ hasText: '+   "description": "Echoes an item, second version",' }).waitFor();
  assert.match(await page.getByTestId('history-diff').innerText(), /- {3}"description": "Echoes an item",/);
  await shot('history');
  await axe('history');
  await page.getByRole('button', { name: `Roll back to ${firstRevision}` }).click();
  await announced(new RegExp(`Rolled tool echo back to revision ${firstRevision}`));
  assert.equal((await gw.admin('GET', '/admin/tds/echo')).body.data.description, 'Echoes an item');
  // The new version appears in the list through the live stream.
  await page.getByTestId('history-table').getByText('rollback by').waitFor({ timeout: 2_000 });
});

const logLevel = () => page.getByTestId('log-level');
const logOverride = () => page.getByTestId('log-override');

test('status: the log level, an override for 15 minutes, and its end', async () => {
  await go('#/status');
  await logLevel().waitFor();
  assert.match(await logLevel().innerText(), /This replica logs at\s+warn\s+Configured level\s+warn/);
  assert.equal(await logOverride().innerText(), 'none');

  await page.getByLabel('Level', { exact: true }).selectOption('debug');
  await page.getByLabel('Duration', { exact: true }).selectOption({ label: '15 minutes' });
  const asked = Date.now();
  await page.getByRole('button', { name: 'Set log level' }).click();
  await announced(/^Log level set to debug until /);
  const answered = Date.now();
  const end = page.getByTestId('log-override').locator('time');
  const endsAt = (await end.getAttribute('datetime')) ?? '';
  const ends = Date.parse(endsAt);
  assert.ok(ends >= asked + 900_000 - 1_000 && ends <= answered + 900_000 + 1_000, `ends 15 minutes after the write: ${endsAt}`);
  // Shown in the browser's local time, as the page's other times are.
  assert.equal(await end.innerText(), await page.evaluate((iso) => new Date(iso).toLocaleString(), endsAt));
  assert.match(await logLevel().innerText(), /This replica logs at\s+debug\s+Configured level\s+warn/);

  // The admin API tells the same.
  const stored = await gw.admin('GET', '/admin/log-level');
  assert.equal(stored.status, 200);
  const { level, configured, override } = stored.body.data;
  assert.deepEqual({ level, configured, overrideLevel: override?.level, expiresAt: override?.expires_at }, { level: 'debug', configured: 'warn', overrideLevel: 'debug', expiresAt: endsAt });
  assert.equal(typeof override.set_by, 'string');
  assert.equal(await logOverride().innerText(), `debug until ${await end.innerText()}, set by ${override.set_by}`);
  await axe('status with a log level override');

  await page.getByRole('button', { name: 'End override' }).click();
  await announced('Log level override ended; back at warn.');
  await logOverride().filter({ hasText: /^none$/ }).waitFor();
  assert.match(await logLevel().innerText(), /This replica logs at\s+warn\s+Configured level\s+warn/);
  assert.equal(await page.evaluate(() => (globalThis as any).document.activeElement?.id), 'log-level-choice', 'the focus stays in the form');
  assert.deepEqual((await gw.admin('GET', '/admin/log-level')).body.data, { level: 'warn', configured: 'warn', override: null });
});

test("status: the gateway's refusal of a log level, and a write the replica has not applied yet", async () => {
  await go('#/status');
  await logLevel().waitFor();
  // A request the form cannot make (it offers only valid durations), so that the real gateway refuses it.
  await page.route('**/admin/log-level', (route) =>
    route.request().method() === 'PUT' ? route.continue({ postData: JSON.stringify({ level: 'debug', duration_seconds: 0 }) }) : route.continue(),
  );
  await page.getByRole('button', { name: 'Set log level' }).click();
  await page.getByRole('alert').filter({ hasText: 'duration_seconds must be a whole number of seconds from 1 to 86400' }).waitFor();
  assert.equal((await gw.admin('GET', '/admin/log-level')).body.data.override, null);
  await page.unrouteAll();

  // A replica that took the write but whose feed lags answers `applied: false` after its wait.
  await page.route('**/admin/log-level', async (route) => {
    if (route.request().method() !== 'PUT') return route.continue();
    const response = await route.fetch();
    const body = await response.json();
    await route.fulfill({ response, json: { ...body, meta: { applied: false } } });
  });
  await page.getByRole('button', { name: 'Set log level' }).click();
  await page.getByTestId('log-level-not-applied').waitFor();
  await announced('Log level override stored; the replica that answered has not applied it yet.');
  assert.equal(await page.getByRole('alert').count(), 0, 'the refusal is gone');
  await page.unrouteAll();
  await page.getByRole('button', { name: 'End override' }).click();
  await logOverride().filter({ hasText: /^none$/ }).waitFor();
  assert.equal(await page.getByTestId('log-level-not-applied').count(), 0);
});

test('status: a gateway without /admin/log-level (404) shows a note instead of the control', async () => {
  // The test gateway's default logger cannot change level, so this gateway has no such route, like an older one.
  const older = await startTestGateway({ ui: { enabled: true } });
  const tab = await context.newPage();
  try {
    assert.equal((await older.admin('GET', '/admin/log-level')).status, 404);
    await tab.goto(`${older.url}/ui/#/status`);
    await tab.getByLabel('Admin key').fill(TEST_KEY);
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByTestId('log-level-unsupported').filter({ hasText: 'this gateway has no log level override' }).waitFor();
    await tab.getByTestId('replica-table').waitFor();
    assert.equal(await tab.getByRole('button', { name: 'Set log level' }).count(), 0);
    assert.equal(await tab.getByRole('alert').count(), 0, 'a missing route is no error');
  } finally {
    await tab.close();
    await older.stop();
  }
});

test('status: replicas and applied revisions, and the audit log', async () => {
  await go('#/status');
  await page.getByTestId('replica-table').waitFor();
  const status = await gw.admin('GET', '/admin/status');
  await page.getByTestId('store-revision').filter({ hasText: String(status.body.data.store_revision) }).waitFor();
  assert.match(await page.getByTestId('replica-table').innerText(), /\(this one\)/);
  const audit = await page.getByTestId('audit-table').innerText();
  assert.match(audit, /rollback/);
  assert.match(audit, /tool echo/);
  // The override's writes are listed, named but without a history link.
  assert.match(audit, /log level override/);
  assert.equal(await page.getByTestId('audit-table').getByRole('link', { name: /log level/ }).count(), 0);
  await shot('status');
  await axe('status');
  assert.deepEqual(cspViolations, [], 'the console runs under its Content-Security-Policy');
});
