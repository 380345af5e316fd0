import type { InstanceDefinition, Logger, ProtoType, ToolDefinition } from '@dynmcp/plugin';
import type { ArgumentValidator, CompiledTool } from '../model/index.js';
import { applyOverride, expandToolIds } from './tool-overrides.js';

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

/**
 * A tool as one instance serves it: the live tool with the instance's override applied (see
 * `docs/curation.md`). Without an override it shares the live tool's listing and validator.
 */
export interface ServedTool {
  /** The name clients see and call. */
  readonly name: string;
  /** The underlying tool: its definition goes to the executor, its validators check what is sent and answered. */
  readonly tool: LiveTool;
  /** `tool.definition`, the definition as stored (its `name` may differ from the served one). */
  readonly definition: ToolDefinition;
  readonly listing: ToolListing;
  /** Checks a call's arguments as the client sent them, against the schema the client was shown. */
  readonly validateArguments: ArgumentValidator;
  readonly validateOutput: ArgumentValidator | undefined;
  /**
   * Values merged into every call (fixed arguments, defaults of hidden ones) before the merged call
   * is checked against the tool's own schema; undefined when the instance pins nothing.
   */
  readonly fixedArguments: Record<string, unknown> | undefined;
}

/** A live tool served as it is, under its own name. */
export function servedAsIs(tool: LiveTool): ServedTool {
  return {
    name: tool.definition.name,
    tool,
    definition: tool.definition,
    listing: tool.listing,
    validateArguments: tool.validateArguments,
    validateOutput: tool.validateOutput,
    fixedArguments: undefined,
  };
}

/** An immutable view of one instance, rebuilt when the instance or one of its tools changes. */
export interface InstanceView {
  readonly id: string;
  readonly definition: InstanceDefinition;
  readonly protoType: ProtoType;
  /** Tools served, sorted by served name, ties by tool id (a stable order for tools/list on every replica). */
  readonly tools: readonly ServedTool[];
  readonly toolsByName: ReadonlyMap<string, ServedTool>;
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
 * The tool `live` as `definition` serves it, or the problems that keep the instance's override of
 * it from fitting the tool as it is now.
 */
export function serveTool(definition: InstanceDefinition, live: LiveTool): ServedTool | { problems: string[] } {
  const override = definition.overrides?.[live.definition.id];
  if (override === undefined) return servedAsIs(live);
  const applied = applyOverride(live.definition, override);
  if ('problems' in applied) return applied;
  const base = applied.inputSchema === live.definition.input_schema ? live.listing : toolListing({ ...live.definition, input_schema: applied.inputSchema });
  const listing: ToolListing = { ...base, name: override.name ?? base.name };
  if (override.title !== undefined) listing.title = override.title;
  if (override.description !== undefined) listing.description = override.description;
  if (override.annotations !== undefined) listing.annotations = override.annotations;
  const { refuseTouched } = applied;
  return {
    name: listing.name,
    tool: live,
    definition: live.definition,
    listing,
    validateArguments: refuseTouched === undefined ? live.validateArguments : refuseTouched,
    validateOutput: live.validateOutput,
    fixedArguments: refuseTouched === undefined ? undefined : (applied.injected ?? {}),
  };
}

/**
 * Builds the view of an instance from the tools known now. Two tools of one instance served under
 * the same name cannot be written through the admin API (409), but a store edited by hand, or a
 * tool that a selector takes later, can give them: the one listed first wins and the conflict is
 * logged. A tool whose override no longer fits it (the tool changed after the instance was
 * written) is left out and logged: serving it without the override could send arguments the
 * instance meant to pin or hide.
 */
export function buildInstanceView(
  definition: InstanceDefinition,
  protoType: ProtoType,
  tools: ReadonlyMap<string, LiveTool>,
  logger: Logger,
): InstanceView {
  const byName = new Map<string, ServedTool>();
  const missing: string[] = [];
  for (const toolId of expandToolIds(definition.tool_ids, tools.keys())) {
    const tool = tools.get(toolId);
    if (tool === undefined) {
      missing.push(toolId);
      continue;
    }
    const served = serveTool(definition, tool);
    if ('problems' in served) {
      logger.warn('tool override no longer fits the tool; tool left out of the instance', {
        instanceId: definition.id,
        toolId,
        problems: served.problems,
      });
      continue;
    }
    const taken = byName.get(served.name);
    if (taken !== undefined) {
      logger.warn('duplicate tool name in instance; later tool left out', {
        instanceId: definition.id,
        toolName: served.name,
        keptToolId: taken.definition.id,
        droppedToolId: toolId,
      });
      continue;
    }
    byName.set(served.name, served);
  }
  const sorted = [...byName.values()].sort(byServedName);
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

/**
 * Served name, then tool id, compared by UTF-16 code units (not locale): the same order on every
 * replica and after every restart, whatever the store's or the feed's order.
 */
function byServedName(a: ServedTool, b: ServedTool): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.definition.id < b.definition.id ? -1 : a.definition.id > b.definition.id ? 1 : 0;
}
