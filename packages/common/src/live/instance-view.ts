import type { InstanceDefinition, Logger, ProtoType, ToolDefinition } from '@dynmcp/plugin';
import type { CompiledTool } from '../model/index.js';

/** A tool as MCP `tools/list` shows it; built once per tool revision. */
export interface ToolListing {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

/** A tool held by the live definitions: its definition, compiled validator and MCP listing. */
export interface LiveTool extends CompiledTool {
  /** Store revision of the definition. */
  readonly revision: number;
  readonly listing: ToolListing;
}

/** An immutable view of one instance, rebuilt when the instance or one of its tools changes. */
export interface InstanceView {
  readonly id: string;
  readonly definition: InstanceDefinition;
  readonly protoType: ProtoType;
  /** Tools served, sorted by name (a stable order for tools/list). */
  readonly tools: readonly LiveTool[];
  readonly toolsByName: ReadonlyMap<string, LiveTool>;
  /** The `tools` array of tools/list, built once per view. */
  readonly listings: readonly ToolListing[];
  /** Listed tool ids with no (valid) definition; left out of tools/list. */
  readonly missingToolIds: readonly string[];
}

/** The MCP listing of a tool definition. A schema without `type` gets `type: "object"`, as MCP requires. */
export function toolListing(definition: ToolDefinition): ToolListing {
  const inputSchema =
    definition.input_schema.type === undefined ? { type: 'object', ...definition.input_schema } : definition.input_schema;
  const listing: ToolListing = { name: definition.name, inputSchema };
  if (definition.title !== undefined) listing.title = definition.title;
  if (definition.description !== undefined) listing.description = definition.description;
  if (definition.output_schema !== undefined) listing.outputSchema = definition.output_schema;
  if (definition.annotations !== undefined) listing.annotations = definition.annotations;
  return listing;
}

/**
 * Builds the view of an instance from the tools known now. Two tools of one instance with the same
 * name cannot be written through the admin API (409), but a store edited by hand can hold them: the
 * one listed first wins and the conflict is logged.
 */
export function buildInstanceView(
  definition: InstanceDefinition,
  protoType: ProtoType,
  tools: ReadonlyMap<string, LiveTool>,
  logger: Logger,
): InstanceView {
  const byName = new Map<string, LiveTool>();
  const missing: string[] = [];
  for (const toolId of definition.tool_ids) {
    const tool = tools.get(toolId);
    if (tool === undefined) {
      missing.push(toolId);
      continue;
    }
    const taken = byName.get(tool.definition.name);
    if (taken !== undefined) {
      logger.warn('duplicate tool name in instance; later tool left out', {
        instanceId: definition.id,
        toolName: tool.definition.name,
        keptToolId: taken.definition.id,
        droppedToolId: toolId,
      });
      continue;
    }
    byName.set(tool.definition.name, tool);
  }
  const sorted = [...byName.values()].sort((a, b) => (a.definition.name < b.definition.name ? -1 : 1));
  return {
    id: definition.id,
    definition,
    protoType,
    tools: sorted,
    toolsByName: byName,
    listings: sorted.map((tool) => tool.listing),
    missingToolIds: missing,
  };
}
