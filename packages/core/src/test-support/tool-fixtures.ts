// Test support for the executor tests: small builders for definitions and call contexts, a logger
// that records, and a reader for text results. The upstream itself is `startUpstream` of
// @dynmcp/testing. Not part of the public surface.
import { silentLogger } from '@dynmcp/plugin';
import type { JsonObject, ToolCallContext, ToolDefinition } from '@dynmcp/plugin';

/** Fields of an `http` tool that tests vary. */
export interface TestToolFields {
  domain: string;
  path: string;
  method?: string;
  input_schema?: JsonObject;
  output_schema?: JsonObject;
  required_params?: JsonObject;
  ext_info?: JsonObject;
}

/** An `http` tool definition, fresh object each time (the compile cache is keyed by object). */
export function httpTool(fields: TestToolFields): ToolDefinition {
  const tool: ToolDefinition = {
    id: 'tool-1',
    name: 'test_tool',
    input_schema: fields.input_schema ?? { type: 'object' },
    tds_ext_info: {
      domain: fields.domain,
      method: fields.method ?? 'GET',
      path: fields.path,
      required_params: fields.required_params ?? {},
      ext_info: fields.ext_info ?? {},
    },
  };
  if (fields.output_schema !== undefined) tool.output_schema = fields.output_schema;
  return tool;
}

/** A call context with a silent logger; pass `signal` to test cancellation. */
export function callContext(signal: AbortSignal = new AbortController().signal): ToolCallContext {
  return { signal, logger: silentLogger, progress() {}, log() {} };
}

/** The text of the first content block, or a failure when it is not text. */
export function firstText(result: { content: { type: string }[] }): string {
  const block = result.content[0] as { type: string; text?: string } | undefined;
  if (block?.type !== 'text' || block.text === undefined) throw new Error(`expected a text block, got ${JSON.stringify(block)}`);
  return block.text;
}
