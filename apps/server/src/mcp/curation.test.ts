import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectLegacy, connectModern, watchToolChanges } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

/** A search tool with a grouped query: `q` required, `limit` at most 50, `debug`, `format` defaulting to json. */
function searchTool(id: string, upstream: string, name = 'search') {
  return {
    id,
    name,
    description: 'Search the catalogue',
    input_schema: {
      type: 'object',
      properties: {
        query: {
          type: 'object',
          properties: {
            q: { type: 'string' },
            limit: { type: 'integer', maximum: 50 },
            debug: { type: 'boolean' },
            format: { type: 'string', enum: ['json', 'xml'], default: 'json' },
          },
          required: ['q'],
        },
      },
      required: ['query'],
    },
    tds_ext_info: { domain: upstream, method: 'GET', path: '/search' },
  };
}

const curated = {
  name: 'find_products',
  title: 'Find products',
  description: 'Find products in the shop',
  annotations: { readOnlyHint: true },
  fixed_arguments: { query: { limit: 10 } },
  hide: ['query.debug', 'query.format'],
};

type Era = 'legacy' | 'modern';
interface ListedTool {
  name: string;
  title?: string;
  description?: string;
  annotations?: Record<string, unknown>;
  inputSchema: { properties?: Record<string, { properties?: Record<string, unknown>; required?: string[] }>; required?: string[] };
}
interface CallResult {
  isError?: boolean;
  content: Array<{ type: string; text?: string }>;
}

async function connect(era: Era, url: string) {
  const { client } = era === 'legacy' ? await connectLegacy(url) : await connectModern(url);
  return {
    list: async () => (await client.listTools()).tools as ListedTool[],
    call: async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallResult,
    close: () => client.close(),
  };
}

describe('instance curation: overrides and selectors', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway();
    assert.equal((await gw.admin('PUT', '/admin/tds/catalog.search', searchTool('catalog.search', upstream.url))).status, 200);
    const shop = await gw.admin('PUT', '/admin/ids/shop', { name: 'Shop', tool_ids: ['catalog.search'], overrides: { 'catalog.search': curated } });
    assert.equal(shop.status, 200, JSON.stringify(shop.body));
    assert.equal((await gw.admin('PUT', '/admin/ids/raw', { name: 'Raw', tool_ids: ['catalog.search'] })).status, 200);
  });

  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  for (const era of ['legacy', 'modern'] as const) {
    it(`${era}: lists the tool under its new name, without the fixed and hidden arguments`, async () => {
      const client = await connect(era, `${gw.url}/mcp/shop`);
      try {
        const tools = await client.list();
        assert.deepEqual(tools.map((tool) => tool.name), ['find_products']);
        const [tool] = tools as [ListedTool];
        assert.equal(tool.title, 'Find products');
        assert.equal(tool.description, 'Find products in the shop');
        assert.deepEqual(tool.annotations, { readOnlyHint: true });
        assert.deepEqual(Object.keys(tool.inputSchema.properties?.query?.properties ?? {}), ['q']);
        assert.deepEqual(tool.inputSchema.properties?.query?.required, ['q']);
        assert.deepEqual(tool.inputSchema.required, ['query']);
      } finally {
        await client.close();
      }
    });

    it(`${era}: a call under the new name sends the fixed value and the hidden default, never the hidden flag`, async () => {
      const client = await connect(era, `${gw.url}/mcp/shop`);
      try {
        upstream.hits.length = 0;
        const result = await client.call('find_products', { query: { q: 'shoes' } });
        assert.equal(result.isError, undefined, JSON.stringify(result));
        assert.equal(upstream.hits.length, 1);
        const query = upstream.hits[0]?.query;
        assert.equal(query?.get('q'), 'shoes');
        assert.equal(query?.get('limit'), '10');
        assert.equal(query?.get('format'), 'json');
        assert.equal(query?.has('debug'), false);
      } finally {
        await client.close();
      }
    });

    it(`${era}: a call that sets a fixed or hidden argument is refused and nothing goes upstream`, async () => {
      const client = await connect(era, `${gw.url}/mcp/shop`);
      try {
        upstream.hits.length = 0;
        const pinned = await client.call('find_products', { query: { q: 'shoes', limit: 40 } });
        assert.equal(pinned.isError, true);
        assert.match(pinned.content[0]?.text ?? '', /Invalid arguments for tool "find_products": argument "query.limit" is fixed/);
        const hidden = await client.call('find_products', { query: { q: 'shoes', debug: true } });
        assert.equal(hidden.isError, true);
        assert.match(hidden.content[0]?.text ?? '', /argument "query.debug" is not accepted/);
        const missing = await client.call('find_products', { query: {} });
        assert.equal(missing.isError, true, 'the narrowed schema still requires q');
        assert.equal(upstream.hits.length, 0);
        await assert.rejects(client.call('search', { query: { q: 'shoes' } }), /Unknown tool: search/);
      } finally {
        await client.close();
      }
    });
  }

  it('serves the same tool unchanged, under its own name, in another instance', async () => {
    const client = await connect('legacy', `${gw.url}/mcp/raw`);
    try {
      const [tool] = (await client.list()) as [ListedTool];
      assert.equal(tool.name, 'search');
      assert.deepEqual(Object.keys(tool.inputSchema.properties?.query?.properties ?? {}), ['q', 'limit', 'debug', 'format']);
      upstream.hits.length = 0;
      const result = await client.call('search', { query: { q: 'hats', limit: 40, debug: true } });
      assert.equal(result.isError, undefined, JSON.stringify(result));
      assert.equal(upstream.hits[0]?.query.get('limit'), '40');
      assert.equal(upstream.hits[0]?.query.get('debug'), 'true');
    } finally {
      await client.close();
    }
  });

  it('checks uniqueness on served names: 409 on a clash an override makes, 200 when an override resolves one', async () => {
    await gw.admin('PUT', '/admin/tds/other.find', searchTool('other.find', upstream.url, 'find_products'));
    const clash = await gw.admin('PUT', '/admin/ids/clash', { name: 'c', tool_ids: ['catalog.search', 'other.find'], overrides: { 'catalog.search': { name: 'find_products' } } });
    assert.equal(clash.status, 409);
    assert.equal(clash.body.error_code, 'DUPLICATE_TOOL_NAME');
    assert.match(clash.body.error, /two tools named "find_products"/);

    await gw.admin('PUT', '/admin/tds/other.search', searchTool('other.search', upstream.url, 'search'));
    const plain = await gw.admin('PUT', '/admin/ids/twins', { name: 't', tool_ids: ['catalog.search', 'other.search'] });
    assert.equal(plain.status, 409);
    const renamed = await gw.admin('PUT', '/admin/ids/twins', { name: 't', tool_ids: ['catalog.search', 'other.search'], overrides: { 'other.search': { name: 'search_other' } } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const client = await connect('modern', `${gw.url}/mcp/twins`);
    try {
      assert.deepEqual((await client.list()).map((tool) => tool.name), ['search', 'search_other']);
    } finally {
      await client.close();
    }
    // A tool renamed later into an override's served name clashes too.
    const later = await gw.admin('PUT', '/admin/tds/catalog.search', searchTool('catalog.search', upstream.url, 'search_other'));
    assert.equal(later.status, 409);
  });

  it('refuses overrides that do not fit with 400 INVALID_PAYLOAD naming each problem', async () => {
    const put = (overrides: Record<string, unknown>, toolIds = ['catalog.search']) =>
      gw.admin('PUT', '/admin/ids/bad', { name: 'b', tool_ids: toolIds, overrides });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ 'not.listed': { name: 'x' } }, /tool_ids does not list: "not.listed"/],
      [{ 'catalog.search': { hide: ['query.nope'] } }, /hide: "query.nope" is not an argument of the tool/],
      [{ 'catalog.search': { fixed_arguments: { query: { size: 3 } } } }, /fixed_arguments: "query.size" is not an argument of the tool/],
      [{ 'catalog.search': { fixed_arguments: { query: { limit: 500 } } } }, /"query.limit" is refused by its schema: must be <= 50/],
      [{ 'catalog.search': { hide: ['query.q'] } }, /hide: "query.q" is required and has no default/],
      [{ 'catalog.search': { name: 'has space' } }, /name/],
    ];
    for (const [overrides, message] of cases) {
      const response = await put(overrides);
      assert.equal(response.status, 400, JSON.stringify(overrides));
      assert.equal(response.body.error_code, 'INVALID_PAYLOAD');
      assert.match(response.body.error, message);
    }
    assert.equal((await gw.admin('GET', '/admin/ids/bad')).status, 404);
  });

  it('a selector follows tools as they come and go, with list_changed, overrides included', async () => {
    for (const id of ['pets.b', 'pets.a']) await gw.admin('PUT', `/admin/tds/${id}`, searchTool(id, upstream.url, id.replace('.', '_')));
    const put = await gw.admin('PUT', '/admin/ids/pets', { name: 'Pets', tool_ids: ['pets.*'], overrides: { 'pets.b': { name: 'zz_renamed', fixed_arguments: { query: { limit: 1 } } } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.meta.missing_tool_ids, []);
    const watcher = await watchToolChanges(`${gw.url}/mcp/pets`);
    const client = await connect('legacy', `${gw.url}/mcp/pets`);
    try {
      assert.deepEqual((await client.list()).map((tool) => tool.name), ['pets_a', 'zz_renamed']);
      upstream.hits.length = 0;
      assert.equal((await client.call('zz_renamed', { query: { q: 'cat' } })).isError, undefined);
      assert.equal(upstream.hits[0]?.query.get('limit'), '1');

      assert.equal((await gw.admin('PUT', '/admin/tds/pets.c', searchTool('pets.c', upstream.url, 'pets_c'))).status, 200);
      assert.deepEqual((await gw.admin('GET', '/admin/tds/pets.c')).body.meta.used_by, ['pets']);
      await sleep(300);
      assert.ok(watcher.counts.legacy >= 1, 'the v1 client heard list_changed for the new tool');
      assert.ok(watcher.counts.modern >= 1, 'the v2 client heard list_changed for the new tool');
      assert.deepEqual((await client.list()).map((tool) => tool.name), ['pets_a', 'pets_c', 'zz_renamed']);

      const heard = watcher.counts.legacy;
      assert.equal((await gw.admin('DELETE', '/admin/tds/pets.a')).status, 200);
      await sleep(300);
      assert.ok(watcher.counts.legacy > heard, 'the v1 client heard list_changed for the deleted tool');
      assert.deepEqual((await client.list()).map((tool) => tool.name), ['pets_c', 'zz_renamed']);
      // A tool a selector takes later may not clash with a served name either.
      assert.equal((await gw.admin('PUT', '/admin/tds/pets.d', searchTool('pets.d', upstream.url, 'pets_c'))).status, 409);
    } finally {
      await client.close();
      await watcher.close();
    }
  });

  it('lists tools in one order, by served name, whatever the order they were listed and written in', async () => {
    for (const [id, name] of [['order.3', 'm_tool'], ['order.1', 'z_tool'], ['order.2', 'a_tool']] as const) {
      await gw.admin('PUT', `/admin/tds/${id}`, searchTool(id, upstream.url, name));
    }
    await gw.admin('PUT', '/admin/ids/ordered', { name: 'o', tool_ids: ['order.1', 'order.3', 'order.2'], overrides: { 'order.1': { name: 'b_tool' } } });
    await gw.admin('PUT', '/admin/ids/ordered-sel', { name: 'o', tool_ids: ['order.*'], overrides: { 'order.1': { name: 'b_tool' } } });
    const expected = ['a_tool', 'b_tool', 'm_tool'];
    for (const era of ['legacy', 'modern'] as const) {
      for (const instance of ['ordered', 'ordered-sel']) {
        const client = await connect(era, `${gw.url}/mcp/${instance}`);
        try {
          assert.deepEqual((await client.list()).map((tool) => tool.name), expected, `${era} ${instance}`);
        } finally {
          await client.close();
        }
      }
    }
  });
});
