// POST /admin/import/openapi end to end: a real gateway, a real upstream on 127.0.0.1 the imported
// document describes, and the official MCP clients calling the imported tools.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestUpstream } from '@dynmcp/testing';
import { startUpstream } from '@dynmcp/testing';
import { connectModern, watchToolChanges } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

// The import worker loads through tsx in tests, which takes seconds on a busy machine.
const SLOW_MACHINE = { admin: { importTimeoutMs: 120_000 }, executor: { egress: { allow: ['127.0.0.1'] }, toolEnvAllow: ['PETS_*'] } };

/** A small pet store; `change` edits the document before it is sent. */
function petStore(change: (paths: Record<string, any>) => void = () => undefined): Record<string, unknown> {
  const paths: Record<string, any> = {
    '/pets': {
      get: {
        operationId: 'listPets',
        summary: 'List pets',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer' } },
          { name: 'filter[kind]', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
      post: {
        operationId: 'createPet',
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } } },
        responses: { '201': { description: 'created' } },
      },
    },
    '/pets/{petId}': {
      get: {
        operationId: 'getPet',
        parameters: [
          { name: 'petId', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'X-Request-Id', in: 'header', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/stats': { get: { operationId: 'stats', security: [{ key: [] }], responses: { '200': { description: 'ok' } } } },
  };
  change(paths);
  return {
    openapi: '3.0.3',
    info: { title: 'Pet store', version: '1' },
    servers: [{ url: 'https://pets.example.com/v2' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, key: { type: 'apiKey', in: 'header', name: 'X-Key' } } },
    paths,
  };
}

let upstream: TestUpstream;
let gw: TestGateway;

const importBody = (instanceId: string, document: unknown, extra: Record<string, unknown> = {}) => ({
  document,
  instance_id: instanceId,
  base_url: `${upstream.url}/v2`,
  // `key` reads a variable outside the gateway's allow-list: the tool using it is refused at write time.
  auth: { bearer: 'Bearer ${env:PETS_TOKEN}', key: '${env:OTHER_KEY}' },
  ...extra,
});

/** The upstream's JSON answer, from a tool result's text (tools without an output schema have no structuredContent). */
const answerOf = (result: { content?: unknown }) => JSON.parse((result.content as [{ text: string }])[0].text) as unknown;

const etagOf = async (path: string) => (await gw.admin('GET', path)).headers.get('etag');

before(async () => {
  upstream = await startUpstream((hit, res) => {
    if (hit.pathname === '/v2/pets/404') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'no such pet' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: hit.method, path: hit.pathname, body: hit.body === '' ? null : JSON.parse(hit.body) }));
  });
  gw = await startTestGateway(SLOW_MACHINE, { env: { PETS_TOKEN: 'tok-1', OTHER_KEY: 'never-sent' } });
});

after(async () => {
  await gw?.stop();
  await upstream?.close();
});

describe('POST /admin/import/openapi', () => {
  it('imports a document whose tools call the upstream with path, query, header and body arguments and the configured credentials', async () => {
    const response = await gw.admin('POST', '/admin/import/openapi', importBody('pets', petStore()));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const data = response.body.data;
    assert.deepEqual(data.created, ['pets.listPets', 'pets.createPet', 'pets.getPet']);
    assert.deepEqual([data.updated, data.deleted, data.unchanged], [[], [], []]);
    assert.equal(data.instance_id, 'pets');
    assert.equal(data.applied, true, 'answered once this gateway serves the import');
    assert.equal(data.skipped.length, 1);
    assert.equal(data.skipped[0].operation, 'GET /stats');
    assert.match(data.skipped[0].reason, /^the gateway would refuse the tool: .*OTHER_KEY/);
    assert.ok(data.warnings.some((warning: string) => /filter\[kind\]" is argument "filter_kind"/.test(warning)), data.warnings.join('\n'));
    const instance = await gw.admin('GET', '/admin/ids/pets');
    assert.equal(instance.body.data.name, 'Pet store');
    assert.equal(instance.headers.get('etag'), `"${data.revision}"`);

    const { client } = await connectModern(`${gw.url}/mcp/pets`);
    try {
      assert.deepEqual((await client.listTools()).tools.map((tool) => tool.name).sort(), ['createPet', 'getPet', 'listPets']);
      upstream.hits.length = 0;
      const list = await client.callTool({ name: 'listPets', arguments: { query: { limit: 2, filter_kind: 'cat' } } });
      assert.equal(list.isError, undefined);
      const listHit = upstream.hits[0]!;
      assert.equal(listHit.pathname, '/v2/pets');
      assert.equal(listHit.query.get('limit'), '2');
      assert.equal(listHit.query.get('filter[kind]'), 'cat');
      assert.equal(listHit.headers.authorization, 'Bearer tok-1');

      const get = await client.callTool({ name: 'getPet', arguments: { path: { petId: 7 }, headers: { 'X-Request-Id': 'r-1' } } });
      assert.deepEqual(answerOf(get), { method: 'GET', path: '/v2/pets/7', body: null });
      assert.equal(upstream.hits[1]?.headers['x-request-id'], 'r-1');

      const created = await client.callTool({ name: 'createPet', arguments: { body: { name: 'Rex' } } });
      assert.deepEqual(answerOf(created), { method: 'POST', path: '/v2/pets', body: { name: 'Rex' } });

      const missing = await client.callTool({ name: 'getPet', arguments: { path: { petId: 404 } } });
      assert.equal(missing.isError, true);
      assert.match(JSON.stringify(missing.content), /404/);
      assert.ok(upstream.hits.every((hit) => hit.headers['x-key'] === undefined));
    } finally {
      await client.close();
    }
  });

  it('dry_run answers the plan and writes nothing', async () => {
    const before = (await gw.admin('GET', '/readyz')).body.revision;
    const response = await gw.admin('POST', '/admin/import/openapi', importBody('dry', petStore(), { dry_run: true }));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body.data.created, ['dry.listPets', 'dry.createPet', 'dry.getPet']);
    assert.equal(response.body.data.revision, before);
    assert.equal(response.body.data.applied, true, 'nothing written, nothing pending');
    assert.equal((await gw.admin('GET', '/admin/ids/dry')).status, 404);
    assert.equal((await gw.admin('GET', '/admin/tds/dry.listPets')).status, 404);
    assert.equal((await gw.admin('GET', '/readyz')).body.revision, before);
  });

  it('a dry run refuses what the import would refuse: a name two tools of another instance would share', async () => {
    assert.equal((await gw.admin('POST', '/admin/import/openapi', importBody('clash-a', petStore()))).status, 200);
    // An instance that serves every tool: a second import of the same API would give it two tools named createPet.
    assert.equal((await gw.admin('PUT', '/admin/ids/everything', { name: 'everything', tool_ids: ['clash-*'] })).status, 200);
    const before = (await gw.admin('GET', '/readyz')).body.revision;
    for (const dry_run of [true, false]) {
      const response = await gw.admin('POST', '/admin/import/openapi', importBody('clash-b', petStore(), { dry_run }));
      assert.equal(response.status, 409, `dry_run ${dry_run}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error_code, 'DUPLICATE_TOOL_NAME');
      assert.match(response.body.error, /instance "everything" would have two tools named/);
    }
    assert.equal((await gw.admin('GET', '/readyz')).body.revision, before, 'nothing was written');
    assert.equal((await gw.admin('DELETE', '/admin/ids/everything')).status, 200);
  });

  it('a re-import syncs its own tools at one revision, with one list_changed, and leaves hand-written ones alone', async () => {
    const first = await gw.admin('POST', '/admin/import/openapi', importBody('sync', petStore()));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    // A hand-written tool in the same instance, with the import's prefix.
    const hand = { name: 'hand', description: 'by hand', input_schema: { type: 'object', properties: {} }, tds_ext_info: { domain: upstream.url, method: 'GET', path: '/hand' } };
    assert.equal((await gw.admin('PUT', '/admin/tds/sync.hand', hand)).status, 200);
    const instance = (await gw.admin('GET', '/admin/ids/sync')).body.data;
    const ids = ['sync.hand', ...instance.tool_ids];
    assert.equal((await gw.admin('PUT', '/admin/ids/sync', { ...instance, tool_ids: ids })).status, 200);
    const handEtag = await etagOf('/admin/tds/sync.hand');
    const keptEtag = await etagOf('/admin/tds/sync.getPet');

    const watcher = await watchToolChanges(`${gw.url}/mcp/sync`);
    try {
      const second = petStore((paths) => {
        paths['/pets'].get.summary = 'List all pets';
        delete paths['/pets'].post;
        paths['/pets/{petId}'].delete = { operationId: 'deletePet', parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'integer' } }], responses: { '204': { description: 'gone' } } };
      });
      const response = await gw.admin('POST', '/admin/import/openapi', importBody('sync', second));
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const data = response.body.data;
      assert.deepEqual(
        { created: data.created, updated: data.updated, deleted: data.deleted, unchanged: data.unchanged },
        { created: ['sync.deletePet'], updated: ['sync.listPets'], deleted: ['sync.createPet'], unchanged: ['sync.getPet'] },
      );
      // Every written record carries the import's one revision; the others kept theirs.
      for (const path of ['/admin/tds/sync.listPets', '/admin/tds/sync.deletePet', '/admin/ids/sync']) assert.equal(await etagOf(path), `"${data.revision}"`, path);
      assert.equal(await etagOf('/admin/tds/sync.getPet'), keptEtag);
      assert.equal(await etagOf('/admin/tds/sync.hand'), handEtag);
      assert.equal((await gw.admin('GET', '/admin/tds/sync.createPet')).status, 404);
      assert.deepEqual((await gw.admin('GET', '/admin/ids/sync')).body.data.tool_ids, ['sync.hand', 'sync.listPets', 'sync.getPet', 'sync.deletePet']);
      await sleep(500);
      assert.equal(watcher.counts.legacy, 1);

      // The same document again changes nothing and writes nothing.
      const again = await gw.admin('POST', '/admin/import/openapi', importBody('sync', second));
      assert.deepEqual(again.body.data.unchanged, ['sync.listPets', 'sync.getPet', 'sync.deletePet']);
      assert.deepEqual([again.body.data.created, again.body.data.updated, again.body.data.deleted], [[], [], []]);
      assert.equal(again.body.data.revision, data.revision);
    } finally {
      await watcher.close();
    }
  });

  it('leaves a planned tool whose id a hand-written tool holds alone, with the reason', async () => {
    const hand = { name: 'mine', description: 'by hand', input_schema: { type: 'object', properties: {} }, tds_ext_info: { domain: upstream.url, method: 'GET', path: '/x' } };
    await gw.admin('PUT', '/admin/tds/taken.listPets', hand);
    const response = await gw.admin('POST', '/admin/import/openapi', importBody('taken', petStore()));
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.ok(!response.body.data.created.includes('taken.listPets'));
    assert.ok(response.body.data.skipped.some((skip: { operation: string; reason: string }) => skip.operation === 'GET /pets' && /did not create/.test(skip.reason)));
    assert.equal((await gw.admin('GET', '/admin/tds/taken.listPets')).body.data.name, 'mine');
  });

  it('imports an operation without its output schema when the gateway would refuse the tool with it, and says so', async () => {
    // An answer schema of 15,000 enum values: a tool over the definition size ceiling of 512 KiB.
    const huge = { type: 'object', properties: { kind: { type: 'string', enum: Array.from({ length: 15_000 }, (_, index) => `kind-${index}-${'x'.repeat(30)}`) } } };
    const document = petStore((paths) => {
      paths['/pets/{petId}'].get.responses['200'] = { description: 'ok', content: { 'application/json': { schema: huge } } };
    });
    const response = await gw.admin('POST', '/admin/import/openapi', importBody('big-answer', document));
    assert.equal(response.status, 200, JSON.stringify(response.body).slice(0, 2000));
    const data = response.body.data;
    assert.ok(data.created.includes('big-answer.getPet'), JSON.stringify(data.skipped));
    assert.ok(
      data.warnings.some((warning: string) => /^GET \/pets\/\{petId\}: imported without output_schema; the gateway would refuse the tool with it: tool definition is larger than 524288 bytes$/.test(warning)),
      data.warnings.join('\n'),
    );
    const stored = (await gw.admin('GET', '/admin/tds/big-answer.getPet')).body.data;
    assert.equal(stored.output_schema, undefined);
    // The other tools keep theirs.
    assert.deepEqual((await gw.admin('GET', '/admin/tds/big-answer.listPets')).body.data.output_schema, { type: 'object' });
    const { client } = await connectModern(`${gw.url}/mcp/big-answer`);
    try {
      const result = await client.callTool({ name: 'getPet', arguments: { path: { petId: 7 } } });
      assert.deepEqual(answerOf(result), { method: 'GET', path: '/v2/pets/7', body: null });
    } finally {
      await client.close();
    }
  });

  it('refuses bad requests and bad documents with 400 and a stable code', async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ ...importBody('bad', petStore()), dryrun: true }, 'INVALID_PAYLOAD', /unknown key "dryrun"/],
      [{ instance_id: 'bad' }, 'INVALID_PAYLOAD', /document is required/],
      [importBody('..', petStore()), 'INVALID_PAYLOAD', /instance_id/],
      [importBody('bad', petStore(), { dry_run: 'yes' }), 'INVALID_PAYLOAD', /dry_run must be true or false/],
      [importBody('bad', petStore(), { include: { verbs: ['get'] } }), 'INVALID_PAYLOAD', /include\.verbs is unknown/],
      [importBody('bad', { hello: 'world' }), 'INVALID_OPENAPI', /^\/: not an OpenAPI document/],
      [importBody('bad', 'openapi: [unclosed'), 'INVALID_OPENAPI', /neither JSON nor valid YAML/],
    ];
    for (const [body, code, message] of cases) {
      const response = await gw.admin('POST', '/admin/import/openapi', body);
      assert.equal(response.status, 400, JSON.stringify(response.body));
      assert.equal(response.body.error_code, code);
      assert.match(response.body.error, message);
    }
    assert.equal((await gw.admin('GET', '/admin/ids/bad')).status, 404);
  });
});

describe('POST /admin/import/openapi body limit', () => {
  it('has its own limit, larger than the admin API one, and refuses bodies over it with 413', async () => {
    const small = await startTestGateway({ ...SLOW_MACHINE, server: { bodyLimitBytes: 16 * 1024 }, admin: { importBodyLimitBytes: 256 * 1024, importTimeoutMs: 120_000 } });
    try {
      const padded = (bytes: number) => petStore((paths) => (paths['/pets'].get.description = 'x'.repeat(bytes)));
      const fits = await small.admin('POST', '/admin/import/openapi', { document: padded(100 * 1024), instance_id: 'big', base_url: 'http://127.0.0.1:9', dry_run: true });
      assert.equal(fits.status, 200, JSON.stringify(fits.body).slice(0, 500));
      const tooBig = await small.admin('POST', '/admin/import/openapi', { document: padded(300 * 1024), instance_id: 'big', base_url: 'http://127.0.0.1:9' });
      assert.equal(tooBig.status, 413);
      assert.equal(tooBig.body.error_code, 'PAYLOAD_TOO_LARGE');
      // The other admin routes keep the small limit.
      const put = await small.admin('PUT', '/admin/ids/big', { name: 'x'.repeat(20 * 1024), tool_ids: [] });
      assert.equal(put.status, 413);
    } finally {
      await small.stop();
    }
  });
});
