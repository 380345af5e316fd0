import type { InstanceView, LiveTool, ServedTool, ToolListing } from '@dynmcp/common';
import type { ToolResult } from '@dynmcp/plugin';
import type { ToolCaller, ToolCallRequestContext } from './tool-call.js';
import { closestNames, searchTools } from './tool-search.js';

/*
 * Search mode (`tool_mode: "search"` on an instance): a catalogue of a thousand tools is too much to
 * list to a model, so the instance lists three meta-tools instead, which find a tool, show it, and
 * call it. Every route (fast paths, sessions, the SDK handler) serves the {@link servedView} of the
 * instance, whose tools are the meta-tools; calling one runs it here, and `call_tool` runs the
 * target through the same tool caller a direct call would (validation, executor, egress policy,
 * output check, the call's log line and its share of the limits, see `searchCallNames`).
 */

export const SEARCH_TOOLS = 'search_tools';
export const GET_TOOL = 'get_tool';
export const CALL_TOOL = 'call_tool';

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;
/** Longest description a search hit carries; `get_tool` gives the whole of it. */
const SHORT_DESCRIPTION = 200;
/** Names offered when `call_tool` or `get_tool` names no tool of the instance. */
const CLOSEST = 5;

type MetaRun = (view: InstanceView, args: Record<string, unknown>, request: ToolCallRequestContext, call: ToolCaller) => Promise<ToolResult>;

const LISTINGS: Record<string, ToolListing> = {
  [SEARCH_TOOLS]: {
    name: SEARCH_TOOLS,
    title: 'Search tools',
    description:
      "Finds this server's tools by what they do: give a few words (e.g. \"list pull requests of a repository\"). " +
      'Answers the best matches, best first, with each tool\'s name, a short description and its input schema; ' +
      `then call one with ${CALL_TOOL}.`,
    inputSchema: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1, maxLength: 1000, description: 'What the tool should do, in a few words.' },
        limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT, description: 'Most tools to return.' },
      },
      required: ['query'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  [GET_TOOL]: {
    name: GET_TOOL,
    title: 'Get tool',
    description: 'Shows one tool in full, as tools/list would: description, input schema, output schema, annotations.',
    inputSchema: {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1, description: `A tool name from ${SEARCH_TOOLS}.` } },
      required: ['name'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  [CALL_TOOL]: {
    name: CALL_TOOL,
    title: 'Call tool',
    description: `Calls one of this server's tools by name with its arguments (see ${SEARCH_TOOLS} and ${GET_TOOL} for its input schema).`,
    inputSchema: {
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, description: `A tool name from ${SEARCH_TOOLS}.` },
        arguments: { type: 'object', description: "The tool's arguments, as its input schema describes them." },
      },
      required: ['name'],
      additionalProperties: false,
    },
  },
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function textResult(structured: Record<string, unknown>): ToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured };
}

function errorText(text: string): ToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

function shortDescription(listing: ToolListing): string | undefined {
  const text = listing.description ?? listing.title;
  if (text === undefined) return undefined;
  const firstParagraph = text.split(/\n\s*\n/, 1)[0]?.trim() ?? '';
  return firstParagraph.length <= SHORT_DESCRIPTION ? firstParagraph : `${firstParagraph.slice(0, SHORT_DESCRIPTION - 1)}…`;
}

async function unknownTool(view: InstanceView, name: string): Promise<ToolResult> {
  const closest = await closestNames(view, name, CLOSEST);
  const hint = closest.length === 0 ? `use ${SEARCH_TOOLS} to find one` : `closest names: ${closest.join(', ')}`;
  return errorText(`Unknown tool "${name}" on this server; ${hint}.`);
}

const RUNS: Record<string, MetaRun> = {
  async [SEARCH_TOOLS](view, args) {
    const limit = (args['limit'] as number | undefined) ?? DEFAULT_LIMIT;
    const hits = await searchTools(view, args['query'] as string, limit);
    const tools = hits.map(({ tool }) => {
      const { name, title, inputSchema } = tool.listing;
      const description = shortDescription(tool.listing);
      return { name, ...(title === undefined ? {} : { title }), ...(description === undefined ? {} : { description }), inputSchema };
    });
    return textResult({ tools });
  },
  async [GET_TOOL](view, args) {
    const name = args['name'] as string;
    const tool = view.toolsByName.get(name);
    if (tool === undefined) return unknownTool(view, name);
    return textResult({ ...tool.listing });
  },
  async [CALL_TOOL](view, args, request, call) {
    const name = args['name'] as string;
    const tool = view.toolsByName.get(name);
    if (tool === undefined) return unknownTool(view, name);
    return call(view.id, tool, (args['arguments'] ?? {}) as Record<string, unknown>, request);
  },
};

/** Checks a meta-tool's arguments as its input schema says; returns what is wrong, or undefined. */
function checkArguments(name: string, args: Record<string, unknown>): string | undefined {
  const allowed = Object.keys((LISTINGS[name]?.inputSchema['properties'] ?? {}) as Record<string, unknown>);
  const extra = Object.keys(args).find((key) => !allowed.includes(key));
  if (extra !== undefined) return `unknown argument "${extra}"; allowed: ${allowed.join(', ')}`;
  if (name === SEARCH_TOOLS) {
    const { query, limit } = args;
    if (typeof query !== 'string' || query.trim() === '' || query.length > 1000) return '"query" must be a non-empty string of at most 1000 characters';
    if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= MAX_LIMIT)) {
      return `"limit" must be an integer from 1 to ${MAX_LIMIT}`;
    }
    return undefined;
  }
  if (typeof args['name'] !== 'string' || args['name'] === '') return '"name" must be a non-empty string';
  if (name === CALL_TOOL && args['arguments'] !== undefined && !isObject(args['arguments'])) return '"arguments" must be an object';
  return undefined;
}

/** The meta-tools' runs, by the tool each served view holds; anything else is a catalogue tool. */
const metaRuns = new WeakMap<ServedTool, { view: InstanceView; run: MetaRun }>();

/**
 * A meta-tool of `view`'s served view. It is shaped as a served tool so that every route finds and
 * lists it as it does any tool; its definition is never sent to an executor ({@link withSearchTools}).
 */
function metaTool(view: InstanceView, name: string): ServedTool {
  const listing = LISTINGS[name] as ToolListing;
  const validateArguments = (args: unknown) => checkArguments(name, (args ?? {}) as Record<string, unknown>);
  const definition = {
    id: `${view.id}:${name}`,
    name,
    description: listing.description,
    input_schema: listing.inputSchema,
    kind: 'dynmcp-search',
    tds_ext_info: { domain: '', method: '', path: '' },
  };
  const live: LiveTool = { definition, revision: 0, listing, validateArguments, validateOutput: undefined, release: () => undefined };
  const tool: ServedTool = { name, tool: live, definition, listing, validateArguments, validateOutput: undefined, fixedArguments: undefined };
  metaRuns.set(tool, { view, run: RUNS[name] as MetaRun });
  return tool;
}

const servedViews = new WeakMap<InstanceView, InstanceView>();

/**
 * The view every route serves for `view`: itself in list mode; in search mode, a view whose tools
 * are the meta-tools, built once per view (that is, per definitions change of the instance).
 */
export function servedView(view: InstanceView): InstanceView {
  if (view.definition.tool_mode !== 'search') return view;
  let served = servedViews.get(view);
  if (served === undefined) {
    const tools = [CALL_TOOL, GET_TOOL, SEARCH_TOOLS].map((name) => metaTool(view, name));
    served = {
      ...view,
      tools,
      toolsByName: new Map(tools.map((tool) => [tool.name, tool])),
      listings: tools.map((tool) => tool.listing),
    };
    servedViews.set(view, served);
  }
  return served;
}

/**
 * A tool caller that also runs the meta-tools: invalid arguments are an `isError` result, as for
 * any tool; `call_tool` hands its target to `call` with the request's context, so the target's
 * call holds the request's lease (claimed for the target) and gets its cancellation and progress.
 */
export function withSearchTools(call: ToolCaller): ToolCaller {
  return (instanceId, tool, args, request) => {
    const meta = metaRuns.get(tool);
    if (meta === undefined) return call(instanceId, tool, args, request);
    const problem = tool.validateArguments(args);
    if (problem !== undefined) return Promise.resolve(errorText(`Invalid arguments for tool "${tool.name}": ${problem}`));
    return meta.run(meta.view, args, request, call);
  };
}

/**
 * The tool name a `tools/call` counts against in the call limits: in search mode, `call_tool`
 * counts as a call of its target (the tool's own limit protects the tool's upstream, however it
 * is reached), and the other meta-tools as calls of no tool (the caller's and the instance's
 * limits still count them).
 */
export function limitedToolName(view: InstanceView, params: { name?: unknown; arguments?: unknown } | undefined): unknown {
  const name = params?.name;
  if (view.definition.tool_mode !== 'search') return name;
  if (name === CALL_TOOL) return isObject(params?.arguments) ? params.arguments['name'] : undefined;
  return undefined;
}
