import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InstanceDefinition, Logger, ToolDefinition } from '@dynmcp/plugin';
import { compileToolDefinition, createSchemaCompiler } from '../model/index.js';
import { buildInstanceView, toolListing, type LiveTool } from './instance-view.js';
import { applyOverride, expandToolIds, mergeArguments } from './tool-overrides.js';

const compiler = createSchemaCompiler();

function tool(id: string, name: string, properties: Record<string, unknown>, required: string[] = []): LiveTool {
  const compiled = compileToolDefinition(
    { id, name, input_schema: { type: 'object', properties, required }, tds_ext_info: { domain: 'api.example.com', method: 'GET', path: '/x' } },
    compiler,
  );
  return { ...compiled, revision: 1, listing: toolListing(compiled.definition) };
}

/** A logger that keeps its warnings. */
function recordingLogger(warnings: Array<[string, Record<string, unknown> | undefined]>): Logger {
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message: string, data?: Record<string, unknown>) => void warnings.push([message, data]),
    error: () => undefined,
    child: () => logger,
  } as unknown as Logger;
  return logger;
}

describe('expandToolIds', () => {
  it('expands selectors in entry order, each selector\'s tools by id, every id once', () => {
    assert.deepEqual(expandToolIds(['x', 'pets.*', 'pets.a', 'gone'], ['pets.b', 'other', 'pets.a', 'x']), ['x', 'pets.a', 'pets.b', 'gone']);
    assert.deepEqual(expandToolIds(['*'], ['b', 'a']), ['a', 'b']);
  });
});

describe('applyOverride', () => {
  const headers = { type: 'object', properties: { 'X-Trace.Id': { type: 'string' }, keep: { type: 'string' } } };
  const definition = tool('t', 't', { headers, limit: { type: 'integer', default: 5 } }, ['limit']).definition as ToolDefinition;

  it('resolves argument paths whose property names hold dots, and hides a required argument that has a default', () => {
    const applied = applyOverride(definition, { hide: ['headers.X-Trace.Id', 'limit'] });
    assert.ok(!('problems' in applied));
    assert.deepEqual(applied.inputSchema, { type: 'object', properties: { headers: { type: 'object', properties: { keep: { type: 'string' } } } } });
    assert.deepEqual(applied.injected, { limit: 5 });
    assert.equal(applied.refuseTouched?.({ headers: { 'X-Trace.Id': 'a' } }), 'argument "headers.X-Trace.Id" is not accepted');
    assert.equal(applied.refuseTouched?.({ headers: { keep: 'a' } }), undefined);
  });

  it('drops a group left empty from the schema and from required', () => {
    const grouped = tool('g', 'g', { path: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } }, ['path']).definition;
    const applied = applyOverride(grouped, { fixed_arguments: { path: { id: 7 } } });
    assert.ok(!('problems' in applied));
    assert.deepEqual(applied.inputSchema, { type: 'object', properties: {} });
    assert.deepEqual(mergeArguments({}, applied.injected ?? {}), { path: { id: 7 } });
  });
});

describe('mergeArguments', () => {
  it('merges objects key by key without changing the caller\'s arguments', () => {
    const args = { query: { q: 'a' }, body: 1 };
    assert.deepEqual(mergeArguments(args, { query: { limit: 10 } }), { query: { q: 'a', limit: 10 }, body: 1 });
    assert.deepEqual(args, { query: { q: 'a' }, body: 1 });
  });
});

describe('buildInstanceView with overrides', () => {
  it('leaves out, and logs, a tool whose override no longer fits it; other tools stay', () => {
    const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
    const tools = new Map([
      ['a', tool('a', 'alpha', { limit: { type: 'integer' } })],
      ['b', tool('b', 'beta', { q: { type: 'string' } })],
    ]);
    const instance: InstanceDefinition = { id: 'i', name: 'i', tool_ids: ['*'], overrides: { a: { hide: ['debug'] }, b: { name: 'a_beta' } } };
    const view = buildInstanceView(instance, 'streamable-stateful', tools, recordingLogger(warnings));
    assert.deepEqual(view.listings.map((listing) => listing.name), ['a_beta']);
    assert.equal(view.toolsByName.get('a_beta')?.definition.id, 'b');
    assert.equal(warnings[0]?.[0], 'tool override no longer fits the tool; tool left out of the instance');
    assert.deepEqual(warnings[0]?.[1]?.problems, ['hide: "debug" is not an argument of the tool']);
  });
});
