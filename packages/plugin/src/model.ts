/**
 * The domain model, as the admin API accepts it and the store keeps it. Field names follow the Rust
 * project dynmcp, which this gateway ports (`tds_ext_info`, `tool_ids`, …), so its clients keep
 * working; everything beyond what it had is optional and additive.
 */

/** A JSON object. */
export type JsonObject = { [key: string]: unknown };

/** Where and how a tool of the built-in `http` kind calls its upstream API. */
export interface ToolHttpInfo {
  /** Upstream host, optionally with scheme and port: `api.example.com` means `https://api.example.com`. */
  domain: string;
  /** HTTP method, e.g. `GET`. */
  method: string;
  /** Path template with `{name}` or `:name` placeholders, e.g. `/v1/emails/{email_id}`. */
  path: string;
  /** Parameters a call must supply; keys are parameter names, values are informational. */
  required_params?: JsonObject;
  /** Well-known keys: `headers`, `timeout_ms`, `max_response_bytes`, `retries`, `result` (see docs/tool-definition.md). */
  ext_info?: JsonObject;
}

/** A tool definition: a TDS ("tool discovery service") record, as the Rust dynmcp calls it. */
export interface ToolDefinition {
  id: string;
  /** MCP tool name, `^[A-Za-z0-9_.-]{1,128}$`, unique within every instance that lists the tool. */
  name: string;
  description?: string;
  title?: string;
  /** JSON Schema of the arguments; sent to clients verbatim. */
  input_schema: JsonObject;
  output_schema?: JsonObject;
  annotations?: JsonObject;
  /** Tool kind, selecting the executor; `http` when absent. */
  kind?: string;
  tds_ext_info: ToolHttpInfo;
}

/** Transport mode of an instance for 2025-era clients. */
export type ProtoType = 'streamable-stateful' | 'streamable-stateless';

/** Instance metadata; the Rust dynmcp stores it as a JSON string, an object is accepted too. */
export interface InstanceMetadata {
  proto_type?: ProtoType;
  [key: string]: unknown;
}

/** An instance definition (an IDS record, as the Rust dynmcp calls it): a named set of tools served at `/mcp/<id>`. */
export interface InstanceDefinition {
  id: string;
  name: string;
  tool_ids: string[];
  metadata?: string | InstanceMetadata;
  /** Served to anyone, without credentials (e.g. for the MCP conformance suite or public demos). */
  public?: boolean;
  /** Principal ids (from auth providers) that may use this instance, besides their own grants. */
  allowed_principals?: string[];
  /**
   * OAuth scopes a caller's access token must all grant (its `scope` claim) to use this instance;
   * 403 `insufficient_scope` otherwise. Listed in the instance's protected resource metadata.
   * Principals without token claims (API keys) are not asked for scopes.
   */
  required_scopes?: string[];
  /** Limits of `tools/call` on this instance, across all callers, per replica. */
  limits?: CallLimits;
  /**
   * `list` (absent: the same): `tools/list` shows every tool. `search`: it shows only the
   * `search_tools`, `get_tool` and `call_tool` meta-tools, which find and call the catalogue.
   */
  tool_mode?: 'list' | 'search';
  /** How this instance serves some of its tools, by tool id (see `docs/curation.md`). */
  overrides?: Record<string, ToolOverride>;
}

/**
 * How one instance serves one of its tools: another name, title, description or annotations;
 * arguments pinned to fixed values (grouped like the call, e.g. `{ "query": { "limit": 10 } }`);
 * argument paths (`"query.debug"`) hidden from clients. Other instances serve the tool unchanged.
 */
export interface ToolOverride {
  name?: string;
  title?: string;
  description?: string;
  annotations?: Record<string, unknown>;
  fixed_arguments?: Record<string, unknown>;
  hide?: string[];
}

/**
 * Rate and concurrency limits of `tools/call`: an instance's `limits`, or a tool's
 * `tds_ext_info.ext_info.limits`. An absent field is no limit.
 */
export interface CallLimits {
  /** Most calls per minute (a token bucket: a full minute's worth may come at once). */
  rate_per_minute?: number;
  /** Most calls running at once. */
  concurrency?: number;
}

/** The record kinds the gateway keeps in a datasource. */
export const RECORD_KINDS = ['tds', 'ids'] as const;
/** `tds` for tools, `ids` for instances. */
export type RecordKind = (typeof RECORD_KINDS)[number];
