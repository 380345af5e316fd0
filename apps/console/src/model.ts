// The shapes of the admin API's definitions, as far as the console reads them. The published JSON
// Schemas (GET /admin/schemas/tds, /admin/schemas/ids) are the full truth; unknown fields are kept
// when a definition is edited and written back.

export interface ToolDefinition {
  id?: string;
  name: string;
  title?: string;
  description?: string;
  kind?: string;
  input_schema: Record<string, unknown>;
  output_schema?: Record<string, unknown>;
  tds_ext_info: {
    domain: string;
    method: string;
    path: string;
    required_params?: Record<string, unknown>;
    ext_info?: Record<string, unknown>;
  };
  [key: string]: unknown;
}

export interface InstanceDefinition {
  id?: string;
  name: string;
  tool_ids: string[];
  tool_mode?: 'list' | 'search';
  public?: boolean;
  [key: string]: unknown;
}

export type Tools = Record<string, ToolDefinition>;
export type Instances = Record<string, InstanceDefinition>;

/** One definition change of the event stream (GET /admin/events). */
export interface DefinitionChange {
  kind: 'tool' | 'instance';
  id: string;
  op: 'put' | 'delete';
}

/** The tool ids an instance serves: plain ids, and `prefix*` selectors over the known tools. */
export function servedToolIds(instance: InstanceDefinition, tools: Tools): string[] {
  const ids = new Set<string>();
  for (const entry of instance.tool_ids) {
    if (entry.endsWith('*')) {
      const prefix = entry.slice(0, -1);
      for (const id of Object.keys(tools)) if (id.startsWith(prefix)) ids.add(id);
    } else if (tools[entry] !== undefined) ids.add(entry);
  }
  return [...ids].sort();
}

/** `value` without `keys`: the fields a form does not show, kept to be written back. */
export function without<T extends Record<string, unknown>>(value: T, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([key]) => !keys.includes(key)));
}
