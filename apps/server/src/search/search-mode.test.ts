// Search mode (`tool_mode: "search"`) through a real gateway, a real upstream and the official
// clients of both eras: the meta-tools are all a client lists, and they find, show and call the
// instance's tools as a direct call would (validation, upstream, limits).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startUpstream, type TestUpstream } from '@dynmcp/testing';
import { connectLegacy, connectModern } from '../test-support/mcp-clients.js';
import { startTestGateway, type TestGateway } from '../test-support/test-gateway.js';

type Result = { content?: Array<{ type: string; text?: string }>; structuredContent?: Record<string, unknown>; isError?: boolean };
const textOf = (result: unknown) => ((result as Result).content ?? []).map((block) => block.text ?? '').join('\n');

/** A flat-argument http tool on the test upstream. */
function tool(id: string, upstream: string, description: string, extra: Record<string, unknown> = {}) {
  return {
    name: id,
    description,
    input_schema: { type: 'object', properties: { owner: { type: 'string' }, repo: { type: 'string' } }, required: ['owner', 'repo'] },
    tds_ext_info: { domain: upstream, method: 'GET', path: `/${id}/{owner}/{repo}`, ext_info: {} },
    ...extra,
  };
}

const CATALOGUE: Record<string, string> = {
  pulls_list: 'List pull requests of a repository.',
  pulls_create: 'Create a pull request.',
  issues_list: 'List issues of a repository.',
  issues_create: 'Create an issue.',
  repos_get: 'Get a repository.',
  repos_delete: 'Delete a repository.',
  users_follow: 'Follow a user.',
};

describe('search mode with the official clients', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream();
    gw = await startTestGateway();
    for (const [id, description] of Object.entries(CATALOGUE)) {
      assert.equal((await gw.admin('PUT', `/admin/tds/${id}`, tool(id, upstream.url, description))).status, 200);
    }
    const metered = tool('metered', upstream.url, 'A tool its upstream allows once a minute.', {
      tds_ext_info: { domain: upstream.url, method: 'GET', path: '/metered/{owner}/{repo}', ext_info: { limits: { rate_per_minute: 1 } } },
    });
    assert.equal((await gw.admin('PUT', '/admin/tds/metered', metered)).status, 200);
    const toolIds = [...Object.keys(CATALOGUE), 'metered'];
    for (const [id, metadata] of [
      ['finder', undefined],
      ['finder-stateless', '{"proto_type":"streamable-stateless"}'],
    ] as const) {
      const instance = { name: id, tool_ids: toolIds, tool_mode: 'search', ...(metadata === undefined ? {} : { metadata }) };
      const put = await gw.admin('PUT', `/admin/ids/${id}`, instance);
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
  });
  after(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  test('an instance refuses a tool_mode other than list or search', async () => {
    const put = await gw.admin('PUT', '/admin/ids/wrong-mode', { name: 'x', tool_ids: [], tool_mode: 'lookup' });
    assert.equal(put.status, 400);
    assert.match(JSON.stringify(put.body), /tool_mode/);
  });

  const eras = [
    { era: 'v1 client, stateful instance', connect: () => connectLegacy(`${gw.url}/mcp/finder`) },
    { era: 'v1 client, stateless instance', connect: () => connectLegacy(`${gw.url}/mcp/finder-stateless`) },
    { era: 'v2 client (2026-07-28)', connect: () => connectModern(`${gw.url}/mcp/finder`) },
  ];

  for (const { era, connect } of eras) {
    describe(era, () => {
      test('tools/list shows only the meta-tools', async () => {
        const { client } = await connect();
        try {
          const { tools } = await client.listTools();
          assert.deepEqual(tools.map((listed) => listed.name), ['call_tool', 'get_tool', 'search_tools']);
        } finally {
          await client.close();
        }
      });

      test('search_tools ranks the catalogue, best first, as structured content and text', async () => {
        const { client } = await connect();
        try {
          const found = (await client.callTool({ name: 'search_tools', arguments: { query: 'list the pull requests of a repo', limit: 3 } })) as Result;
          assert.notEqual(found.isError, true, textOf(found));
          const tools = (found.structuredContent?.['tools'] ?? []) as Array<{ name: string; description: string; inputSchema: unknown }>;
          assert.equal(tools.length, 3);
          assert.equal(tools[0]?.name, 'pulls_list');
          assert.equal(tools[0]?.description, CATALOGUE['pulls_list']);
          assert.deepEqual(tools[0]?.inputSchema, tool('pulls_list', upstream.url, '').input_schema);
          assert.deepEqual(JSON.parse(textOf(found)), found.structuredContent);

          const again = (await client.callTool({ name: 'search_tools', arguments: { query: 'list the pull requests of a repo', limit: 3 } })) as Result;
          assert.deepEqual(again.structuredContent, found.structuredContent, 'the same query gives the same answer');

          const removal = (await client.callTool({ name: 'search_tools', arguments: { query: 'remove a repository' } })) as Result;
          assert.equal(((removal.structuredContent?.['tools'] ?? []) as Array<{ name: string }>)[0]?.name, 'repos_delete');
        } finally {
          await client.close();
        }
      });

      test('get_tool shows one tool in full', async () => {
        const { client } = await connect();
        try {
          const shown = (await client.callTool({ name: 'get_tool', arguments: { name: 'issues_create' } })) as Result;
          assert.notEqual(shown.isError, true, textOf(shown));
          assert.deepEqual(shown.structuredContent, {
            name: 'issues_create',
            description: CATALOGUE['issues_create'],
            inputSchema: tool('issues_create', upstream.url, '').input_schema,
          });
        } finally {
          await client.close();
        }
      });

      test('call_tool calls the tool on its upstream', async () => {
        const { client } = await connect();
        try {
          const before = upstream.hits.length;
          const called = (await client.callTool({ name: 'call_tool', arguments: { name: 'repos_get', arguments: { owner: 'octo', repo: 'cat' } } })) as Result;
          assert.notEqual(called.isError, true, textOf(called));
          assert.equal(upstream.hits.length, before + 1);
          assert.equal(upstream.hits.at(-1)?.pathname, '/repos_get/octo/cat');
          assert.equal((JSON.parse(textOf(called)) as { url?: string }).url, '/repos_get/octo/cat');
        } finally {
          await client.close();
        }
      });

      test('call_tool errors are tool results: an unknown name lists the closest, invalid arguments never go upstream', async () => {
        const { client } = await connect();
        try {
          const before = upstream.hits.length;
          const unknown = (await client.callTool({ name: 'call_tool', arguments: { name: 'pulls_lst', arguments: {} } })) as Result;
          assert.equal(unknown.isError, true);
          assert.match(textOf(unknown), /Unknown tool "pulls_lst".*closest names: pulls_list/);

          const invalid = (await client.callTool({ name: 'call_tool', arguments: { name: 'repos_get', arguments: { owner: 'octo' } } })) as Result;
          assert.equal(invalid.isError, true);
          assert.match(textOf(invalid), /Invalid arguments for tool "repos_get"/);

          const badMeta = (await client.callTool({ name: 'search_tools', arguments: { query: 'x', limit: 500 } })) as Result;
          assert.equal(badMeta.isError, true);
          assert.match(textOf(badMeta), /"limit" must be an integer from 1 to 50/);
          assert.equal(upstream.hits.length, before);

          // The catalogue's tools are reached through call_tool only.
          await assert.rejects(client.callTool({ name: 'repos_get', arguments: { owner: 'a', repo: 'b' } }), /Unknown tool/);
        } finally {
          await client.close();
        }
      });
    });
  }

  test('search, get_tool and call_tool see the tools as the instance serves them (overrides)', async () => {
    const curated = {
      name: 'curated',
      tool_ids: Object.keys(CATALOGUE),
      tool_mode: 'search',
      overrides: { repos_get: { name: 'fetch_repository', description: 'Fetch one repository of the octo account by name.', fixed_arguments: { owner: 'octo' } } },
    };
    const put = await gw.admin('PUT', '/admin/ids/curated', curated);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const { client } = await connectModern(`${gw.url}/mcp/curated`);
    try {
      const found = (await client.callTool({ name: 'search_tools', arguments: { query: 'fetch a repository of octo', limit: 2 } })) as Result;
      const hits = (found.structuredContent?.['tools'] ?? []) as Array<{ name: string; inputSchema: { properties?: Record<string, unknown> } }>;
      assert.equal(hits[0]?.name, 'fetch_repository');
      assert.ok(!hits.some((hit) => hit.name === 'repos_get'), 'the tool is found under its served name only');
      assert.deepEqual(Object.keys(hits[0]?.inputSchema.properties ?? {}), ['repo'], 'the fixed argument is not shown');

      const shown = (await client.callTool({ name: 'get_tool', arguments: { name: 'fetch_repository' } })) as Result;
      assert.equal(shown.structuredContent?.['description'], 'Fetch one repository of the octo account by name.');

      const before = upstream.hits.length;
      const called = (await client.callTool({ name: 'call_tool', arguments: { name: 'fetch_repository', arguments: { repo: 'cat' } } })) as Result;
      assert.notEqual(called.isError, true, textOf(called));
      assert.equal(upstream.hits.length, before + 1);
      assert.equal(upstream.hits.at(-1)?.pathname, '/repos_get/octo/cat', 'the fixed argument is sent');

      const touched = (await client.callTool({ name: 'call_tool', arguments: { name: 'fetch_repository', arguments: { owner: 'evil', repo: 'cat' } } })) as Result;
      assert.equal(touched.isError, true, 'a fixed argument cannot be set through call_tool either');
      assert.equal(upstream.hits.length, before + 1);
    } finally {
      await client.close();
    }
  });

  test('words that are properties of a plain object ("constructor", "__proto__") are indexed and searched like any other; the gateway stays up', async () => {
    // Such a word once made the index build throw, unhandled, when the instance was written.
    const put = await gw.admin('PUT', '/admin/tds/standings', tool('standings', upstream.url, 'Formula 1 constructors standings, and __proto__ toString.'));
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((await gw.admin('PUT', '/admin/ids/racing', { name: 'racing', tool_ids: ['standings', 'repos_get'], tool_mode: 'search' })).status, 200);
    const { client } = await connectModern(`${gw.url}/mcp/racing`);
    try {
      for (const query of ['constructor', 'constructors', '__proto__ toString']) {
        const found = (await client.callTool({ name: 'search_tools', arguments: { query } })) as Result;
        const hits = (found.structuredContent?.['tools'] ?? []) as Array<{ name: string }>;
        assert.equal(hits[0]?.name, 'standings', query);
      }
      const unknown = (await client.callTool({ name: 'get_tool', arguments: { name: 'constructor' } })) as Result;
      assert.equal(unknown.isError, true);
      assert.match(textOf(unknown), /^Unknown tool "constructor" on this server; /);
    } finally {
      await client.close();
    }
    assert.equal((await gw.admin('GET', '/readyz')).status, 200, 'the gateway is still serving');
  });

  test("call_tool counts against the target tool's limit: a limit of 1 a minute refuses the second call", async () => {
    const legacy = await connectLegacy(`${gw.url}/mcp/finder`);
    const modern = await connectModern(`${gw.url}/mcp/finder-stateless`);
    try {
      const before = upstream.hits.length;
      const first = (await legacy.client.callTool({ name: 'call_tool', arguments: { name: 'metered', arguments: { owner: 'a', repo: 'b' } } })) as Result;
      assert.notEqual(first.isError, true, textOf(first));
      // The tool's limit protects its upstream through every instance and client.
      await assert.rejects(
        modern.client.callTool({ name: 'call_tool', arguments: { name: 'metered', arguments: { owner: 'a', repo: 'b' } } }),
        /Too many calls: tool \\?"metered\\?" allows 1 call per minute/,
      );
      await assert.rejects(
        legacy.client.callTool({ name: 'call_tool', arguments: { name: 'metered', arguments: { owner: 'a', repo: 'b' } } }),
        /Too many calls: tool \\?"metered/,
      );
      assert.equal(upstream.hits.length, before + 1);
      // Other tools are not held back by it.
      const other = (await modern.client.callTool({ name: 'call_tool', arguments: { name: 'repos_get', arguments: { owner: 'a', repo: 'b' } } })) as Result;
      assert.notEqual(other.isError, true, textOf(other));
    } finally {
      await legacy.client.close();
      await modern.client.close();
    }
  });
});
