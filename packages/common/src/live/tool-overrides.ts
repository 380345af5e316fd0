import type { ToolDefinition, ToolOverride } from '@dynmcp/plugin';

/** True when a `tool_ids` entry is a selector: it ends with `*` and takes every tool id starting with what precedes it. */
export function isSelector(entry: string): boolean {
  return entry.endsWith('*');
}

/** True when the `tool_ids` entry `entry` (an id or a selector) takes the tool `toolId`. */
export function entryTakes(entry: string, toolId: string): boolean {
  return isSelector(entry) ? toolId.startsWith(entry.slice(0, -1)) : entry === toolId;
}

/**
 * The tool ids an instance lists, its selectors expanded against `known` (the tool ids that
 * exist): entries in their order, each selector's tools sorted by id, each id once. Plain ids are
 * kept whether or not they exist, as the instance lists them.
 */
export function expandToolIds(entries: readonly string[], known: Iterable<string>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let sortedKnown: string[] | undefined;
  for (const entry of entries) {
    if (!isSelector(entry)) {
      if (!seen.has(entry)) out.push(entry);
      seen.add(entry);
      continue;
    }
    sortedKnown ??= [...known].sort();
    const prefix = entry.slice(0, -1);
    for (const toolId of sortedKnown) {
      if (!toolId.startsWith(prefix) || seen.has(toolId)) continue;
      seen.add(toolId);
      out.push(toolId);
    }
  }
  return out;
}

/** One argument an override fixes or hides, by its path, and what is sent for it (nothing when `value` is undefined). */
interface PinnedArgument {
  path: readonly string[];
  value: unknown;
  fixed: boolean;
}

/**
 * An override applied to one tool: the input schema clients see and how a call becomes the call
 * sent. Built once per instance view.
 */
export interface AppliedOverride {
  /** The input schema without the fixed and hidden properties, `required` adjusted. */
  inputSchema: Record<string, unknown>;
  /** Values always merged into a call (fixed ones, and the defaults of hidden ones); undefined: none. */
  injected: Record<string, unknown> | undefined;
  /**
   * Refuses a call that sets a fixed or hidden argument. Together with checking the call merged
   * with `injected` against the tool's own schema, this accepts exactly the calls the narrowed
   * schema accepts, without compiling a second schema per instance.
   */
  refuseTouched: ((args: unknown) => string | undefined) | undefined;
  /** Fixed values by dotted path, for a write-time check of each against its property's schema. */
  fixedValues: Array<{ path: string; value: unknown; schema: Record<string, unknown> }>;
}

type Schema = Record<string, unknown>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const propertiesOf = (schema: Schema): Record<string, unknown> | undefined =>
  isObject(schema.properties) ? schema.properties : undefined;

const requiredOf = (schema: Schema): string[] => (Array.isArray(schema.required) ? (schema.required as string[]) : []);

/**
 * The property path a dotted `path` names in `schema`, or undefined. Property names may hold dots
 * themselves (`X-Trace.Id`), so each split is tried, the longest property name first.
 */
function resolvePath(schema: Schema, path: string): string[] | undefined {
  const properties = propertiesOf(schema);
  if (properties === undefined) return undefined;
  if (Object.hasOwn(properties, path)) return [path];
  for (let cut = path.lastIndexOf('.'); cut > 0; cut = path.lastIndexOf('.', cut - 1)) {
    const head = path.slice(0, cut);
    const sub = properties[head];
    if (!Object.hasOwn(properties, head) || !isObject(sub)) continue;
    const rest = resolvePath(sub, path.slice(cut + 1));
    if (rest !== undefined) return [head, ...rest];
  }
  return undefined;
}

/** The schema of the property at `path`, and its parent's. */
function propertyAt(schema: Schema, path: readonly string[]): { parent: Schema; property: Schema } {
  let parent = schema;
  for (let index = 0; index < path.length - 1; index++) parent = (propertiesOf(parent) as Schema)[path[index] as string] as Schema;
  return { parent, property: (propertiesOf(parent) as Schema)[path[path.length - 1] as string] as Schema };
}

/** The leaves of `fixed` as property paths of `schema`: an object value under a property with `properties` is a group, descended into. */
function fixedLeaves(schema: Schema, fixed: Record<string, unknown>, at: string[], problems: string[], out: PinnedArgument[]) {
  const properties = propertiesOf(schema) ?? {};
  for (const [key, value] of Object.entries(fixed)) {
    const path = [...at, key];
    const sub = properties[key];
    if (!Object.hasOwn(properties, key) || !isObject(sub)) {
      problems.push(`fixed_arguments: "${path.join('.')}" is not an argument of the tool`);
      continue;
    }
    if (isObject(value) && propertiesOf(sub) !== undefined && Object.keys(value).length > 0) {
      fixedLeaves(sub, value, path, problems, out);
      continue;
    }
    out.push({ path, value, fixed: true });
  }
}

/** A copy of `schema` without the properties at `paths`; a group left with nothing a caller must send is no longer required itself. */
function narrowed(schema: Schema, paths: ReadonlyArray<readonly string[]>): Schema {
  const here = new Set<string>();
  const below = new Map<string, Array<readonly string[]>>();
  for (const path of paths) {
    const [head, ...rest] = path as [string, ...string[]];
    if (rest.length === 0) here.add(head);
    else below.set(head, [...(below.get(head) ?? []), rest]);
  }
  const properties: Record<string, unknown> = {};
  let required = requiredOf(schema).filter((name) => !here.has(name));
  for (const [name, sub] of Object.entries(propertiesOf(schema) ?? {})) {
    if (here.has(name)) continue;
    const inner = below.get(name);
    if (inner === undefined) {
      properties[name] = sub;
      continue;
    }
    const group = narrowed(sub as Schema, inner);
    // The merge creates the group, so a caller need not send it; a group with nothing left to set is not shown.
    if (requiredOf(group).length === 0) required = required.filter((other) => other !== name);
    if (Object.keys(propertiesOf(group) ?? {}).length > 0) properties[name] = group;
  }
  const out: Schema = { ...schema, properties };
  if (required.length > 0) out.required = required;
  else delete out.required;
  return out;
}

/** `value` at `path` of `args`, or undefined. */
function valueAt(args: Record<string, unknown>, path: readonly string[]): unknown {
  let current: unknown = args;
  for (const key of path) {
    if (!isObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/** `args` with `injected` merged in: objects merged key by key, copied where they change; `args` is not modified. */
export function mergeArguments(args: Record<string, unknown>, injected: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...args };
  for (const [key, value] of Object.entries(injected)) {
    const current = out[key];
    out[key] = isObject(value) && isObject(current) ? mergeArguments(current, value) : value;
  }
  return out;
}

function setAt(target: Record<string, unknown>, path: readonly string[], value: unknown) {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isObject(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/**
 * Applies the argument part of `override` (`fixed_arguments`, `hide`) to `tool`'s input schema.
 * Returns the problems that keep it from fitting — an argument path the schema does not have, a
 * hidden required argument without a default — or the applied override. Whether a fixed value is
 * one its property's schema accepts needs a compiled schema; the admin API checks that with
 * `fixedValues`, and every call is checked against the tool's own schema after the merge.
 */
export function applyOverride(tool: ToolDefinition, override: ToolOverride): AppliedOverride | { problems: string[] } {
  const schema = tool.input_schema as Schema;
  const problems: string[] = [];
  const pinned: PinnedArgument[] = [];
  if (override.fixed_arguments !== undefined) fixedLeaves(schema, override.fixed_arguments, [], problems, pinned);
  for (const dotted of override.hide ?? []) {
    const path = resolvePath(schema, dotted);
    if (path === undefined) {
      problems.push(`hide: "${dotted}" is not an argument of the tool`);
      continue;
    }
    if (pinned.some((other) => other.path.join('\0') === path.join('\0'))) continue;
    const { parent, property } = propertyAt(schema, path);
    const fallback = isObject(property) ? property.default : undefined;
    if (fallback === undefined && requiredOf(parent).includes(path[path.length - 1] as string)) {
      problems.push(`hide: "${dotted}" is required and has no default, so a call without it would fail; fix its value with fixed_arguments instead`);
      continue;
    }
    pinned.push({ path, value: fallback, fixed: false });
  }
  if (problems.length > 0) return { problems };
  if (pinned.length === 0) return { inputSchema: schema, injected: undefined, refuseTouched: undefined, fixedValues: [] };
  let injected: Record<string, unknown> | undefined;
  for (const { path, value } of pinned) if (value !== undefined) setAt((injected ??= {}), path, value);
  const refuseTouched = (args: unknown) => {
    if (!isObject(args)) return undefined;
    for (const { path, fixed } of pinned) {
      if (valueAt(args, path) === undefined) continue;
      const name = path.join('.');
      return fixed ? `argument "${name}" is fixed by this server and cannot be set` : `argument "${name}" is not accepted`;
    }
    return undefined;
  };
  const fixedValues = pinned
    .filter((argument) => argument.fixed)
    .map(({ path, value }) => ({ path: path.join('.'), value, schema: propertyAt(schema, path).property }));
  return { inputSchema: narrowed(schema, pinned.map((argument) => argument.path)), injected, refuseTouched, fixedValues };
}
