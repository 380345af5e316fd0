import type { ToolDefinition } from '@dynmcp/plugin';

/** Which operations an import selects; within a field any entry matches, across fields all given fields must. */
export interface ImportFilters {
  tags?: readonly string[];
  operation_ids?: readonly string[];
  /** Globs over the document's path: `*` stands for any characters within a segment, `**` for any across segments. */
  paths?: readonly string[];
}

/** What {@link planImport} maps. */
export interface ImportInput {
  /** The OpenAPI 3.0/3.1 or Swagger 2.0 document: an object, or its JSON or YAML text. */
  document: unknown;
  /** The instance the tools are meant for; the default id prefix is `<instanceId>.`. */
  instanceId: string;
  /** Prepended to every tool name to make its id; default `<instanceId>.`. */
  toolIdPrefix?: string;
  /** Upstream base URL (`https://api.example.com/v1`), replacing the document's servers. */
  baseUrl?: string;
  /** Security scheme name → value template, e.g. `{ "bearer": "Bearer ${env:PETS_TOKEN}" }`. */
  auth?: Readonly<Record<string, string>>;
  include?: ImportFilters;
  exclude?: ImportFilters;
}

/** Bounds of one import; a document over them is refused with 400. */
export interface ImportLimits {
  /** Largest document text (or JSON serialisation of an object), in bytes. */
  maxBytes: number;
  /** Longest time the worker may take to read, resolve and map the document. */
  timeoutMs: number;
  /** Heap of the worker, in MB. */
  maxHeapMb: number;
}

/** 20 MB of text, 10 s, 256 MB of heap: generous for real APIs (the largest public ones are a few MB). */
export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 20 * 1024 * 1024, timeoutMs: 60_000, maxHeapMb: 256 };

/** An operation the import left out, and why. */
export interface SkippedOperation {
  /** `GET /pets/{id}`, as the document spells the path. */
  operation: string;
  reason: string;
}

/** The result of {@link planImport}: tools to write, and what was left out or changed. */
export interface ImportPlan {
  title: string;
  version: string;
  /** One per mapped operation, each with its `id`; every one passes `compileToolDefinition`. */
  tools: ToolDefinition[];
  skipped: SkippedOperation[];
  warnings: string[];
}
