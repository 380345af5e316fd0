import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { InstanceView, ServedTool } from '@dynmcp/common';
import { limitedToolName, servedView } from './search-mode.js';
import { closestNames, searchTools } from './tool-search.js';

/** A view holding served tools with these names and descriptions (only what search reads). */
function viewOf(tools: Record<string, string>, toolMode?: 'search'): InstanceView {
  const served = Object.entries(tools)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, description]) => ({ name, listing: { name, description, inputSchema: { type: 'object', properties: { owner: {} } } } }));
  return {
    id: 'v',
    definition: { id: 'v', name: 'v', tool_ids: [], ...(toolMode ? { tool_mode: toolMode } : {}) },
    protoType: 'streamable-stateless',
    tools: served as unknown as ServedTool[],
    toolsByName: new Map(served.map((tool) => [tool.name, tool as unknown as ServedTool])),
    listings: served.map((tool) => tool.listing),
    missingToolIds: [],
  } as InstanceView;
}

describe('tool search', () => {
  test('equal scores come in name order, whatever order the query meets them in', async () => {
    const same = 'List widgets of a repository.';
    const view = viewOf({ zeta_widgets: same, alpha_widgets: same, mid_widgets: same, other: 'Delete a user.' });
    const names = (await searchTools(view, 'widgets', 10)).map((hit) => hit.tool.name);
    assert.deepEqual(names, ['alpha_widgets', 'mid_widgets', 'zeta_widgets']);
    const cut = (await searchTools(view, 'widgets', 2)).map((hit) => hit.tool.name);
    assert.deepEqual(cut, ['alpha_widgets', 'mid_widgets'], 'a limit inside a tie keeps the first names');
  });

  test('plurals, synonyms and name words meet: "remove a repo" finds repos_delete first', async () => {
    const view = viewOf({ repos_delete: 'Delete a repository.', repos_get: 'Get a repository.', users_delete: 'Delete a user.' });
    assert.equal((await searchTools(view, 'remove a repo', 3))[0]?.tool.name, 'repos_delete');
  });

  test('words that name properties of a plain object ("constructor", "__proto__", "toString") are words like any other', async () => {
    const view = viewOf({
      constructor_standings: 'Formula 1 constructors standings.',
      proto_dump: 'Dump __proto__ and toString and hasOwnProperty values.',
      other: 'Delete a user.',
    });
    assert.equal((await searchTools(view, 'constructor', 3))[0]?.tool.name, 'constructor_standings');
    assert.equal((await searchTools(view, 'constructors', 3))[0]?.tool.name, 'constructor_standings');
    assert.equal((await searchTools(view, 'tostring valueOf __proto__', 3))[0]?.tool.name, 'proto_dump');
    assert.equal((await closestNames(view, 'constructor', 3))[0], 'constructor_standings');
  });

  test('closest names of a misspelt name', async () => {
    const view = viewOf({ pulls_list: 'List pull requests.', issues_list: 'List issues.' });
    assert.equal((await closestNames(view, 'pulls_lst', 3))[0], 'pulls_list');
  });

  test('a search-mode view serves the meta-tools; call_tool counts as its target in the limits', () => {
    const list = viewOf({ repos_get: 'Get a repository.' });
    assert.equal(servedView(list), list);
    const search = viewOf({ repos_get: 'Get a repository.' }, 'search');
    const served = servedView(search);
    assert.equal(servedView(search), served, 'built once per view');
    assert.deepEqual(served.listings.map((listing) => listing.name), ['call_tool', 'get_tool', 'search_tools']);
    assert.equal(limitedToolName(search, { name: 'call_tool', arguments: { name: 'repos_get' } }), 'repos_get');
    assert.equal(limitedToolName(search, { name: 'search_tools', arguments: { query: 'x' } }), undefined);
    assert.equal(limitedToolName(list, { name: 'call_tool' }), 'call_tool');
  });
});
