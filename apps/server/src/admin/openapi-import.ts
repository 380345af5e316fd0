import type { LiveDefinitions } from '@dynmcp/common';
import {
  GatewayError,
  isGatewayError,
  requireBatch,
  type DataSource,
  type InstanceDefinition,
  type StoredRecord,
  type ToolDefinition,
} from '@dynmcp/plugin';
import { planImport, type ImportLimits, type ImportPlanner, type SkippedOperation } from '../openapi/index.js';
import type { AdminBatchOperation, AdminService } from './admin-service.js';
import type { ImportRequest } from './import-request.js';

/** What `POST /admin/import/openapi` answers in `data`. */
export interface ImportResult {
  /** The revision the import was written at; the current one for a dry run or an import that changed nothing. */
  revision: number;
  instance_id: string;
  created: string[];
  updated: string[];
  deleted: string[];
  unchanged: string[];
  skipped: SkippedOperation[];
  warnings: string[];
  /** `false` when the import was written but this replica had not applied it when its wait ran out; `true` otherwise. */
  applied: boolean;
}

/** Options of {@link createOpenApiImporter}. */
export interface OpenApiImporterOptions {
  service: AdminService;
  datasource: DataSource;
  definitions: LiveDefinitions;
  limits: ImportLimits;
  /** Maps the documents (with a worker started ahead, see `createImportPlanner`); default: a worker started per import. */
  planner?: ImportPlanner;
}

/**
 * Least time an import waits for this replica's live definitions to apply its batch before
 * answering: checking a thousand tools' schemas can take seconds on a busy machine, over an admin write's 2 s.
 */
const IMPORT_APPLY_TIMEOUT_MS = 60_000;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON with every object's keys sorted: two definitions are the same when these strings are. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The mapper records where a tool came from in `ext_info.openapi`; a hand-written tool has no such entry. */
function importedBy(record: StoredRecord | undefined, prefix: string): boolean {
  if (record === undefined || !record.id.startsWith(prefix)) return false;
  const extInfo = (record.value as Partial<ToolDefinition>).tds_ext_info?.ext_info;
  return isRecord(extInfo) && isRecord(extInfo['openapi']);
}

function operationOf(tool: ToolDefinition): string {
  const openapi = tool.tds_ext_info.ext_info?.['openapi'];
  return isRecord(openapi) && typeof openapi['operation'] === 'string' ? openapi['operation'] : tool.id;
}

/**
 * The OpenAPI import as one change: maps the document (`planImport`), compares the tools with the
 * ones an earlier import of the same instance and prefix wrote, and writes every difference and the
 * instance in ONE `applyBatch` (one revision, one list_changed), each updated or deleted record and
 * the instance conditioned on the revision read here, so a concurrent admin edit fails the import
 * (412) instead of being overwritten.
 */
export function createOpenApiImporter(options: OpenApiImporterOptions) {
  const { service, datasource, definitions, limits } = options;
  const plan = options.planner?.plan ?? ((input: Parameters<ImportPlanner['plan']>[0]) => planImport(input, limits));

  /** `principal`: who imports, recorded in the history of every definition the import writes. */
  return async function importOpenApi(request: ImportRequest, principal?: string): Promise<ImportResult> {
    // Before the document's seconds of work: a store that cannot write it all at once never will.
    requireBatch(datasource);
    const prefix = request.toolIdPrefix ?? `${request.instanceId}.`;
    const planned = await plan(
      {
        document: request.document,
        instanceId: request.instanceId,
        toolIdPrefix: prefix,
        ...(request.baseUrl === undefined ? {} : { baseUrl: request.baseUrl }),
        ...(request.auth === undefined ? {} : { auth: request.auth }),
        ...(request.include === undefined ? {} : { include: request.include }),
        ...(request.exclude === undefined ? {} : { exclude: request.exclude }),
      },
    );
    const health = datasource.health();
    if (!health.connected) {
      throw new GatewayError('STORE_UNAVAILABLE', `the store is unreachable (${health.reason ?? 'not connected'}); nothing was changed, retry later`);
    }
    const [toolRecords, instanceRecord] = await Promise.all([datasource.list('tds'), datasource.get('ids', request.instanceId)]);
    const tools = new Map(toolRecords.map((record) => [record.id, record]));
    const instance = instanceRecord?.value as InstanceDefinition | undefined;
    const currentIds = instance?.tool_ids ?? [];
    const owned = new Set(currentIds.filter((id) => importedBy(tools.get(id), prefix)));
    // Names the instance's other tools hold: an imported tool taking one would make a 409 of the whole import.
    const otherNames = new Map<string, string>();
    for (const id of currentIds) {
      const record = tools.get(id);
      if (record !== undefined && !owned.has(id)) otherNames.set((record.value as ToolDefinition).name, id);
    }

    const result: ImportResult = {
      revision: definitions.revision,
      instance_id: request.instanceId,
      created: [], updated: [], deleted: [], unchanged: [],
      skipped: [...planned.skipped],
      warnings: planned.warnings,
      applied: true,
    };
    const operations: AdminBatchOperation[] = [];
    const importIds: string[] = [];
    const skip = (tool: ToolDefinition, reason: string) => result.skipped.push({ operation: operationOf(tool), reason });
    const candidates: ToolDefinition[] = [];
    for (const tool of planned.tools) {
      const existing = tools.get(tool.id);
      if (existing !== undefined && !importedBy(existing, prefix)) {
        skip(tool, `tool id "${tool.id}" belongs to a tool this import did not create; left alone (choose another tool_id_prefix)`);
        continue;
      }
      const holder = otherNames.get(tool.name);
      if (holder !== undefined) {
        skip(tool, `instance "${request.instanceId}" already has a tool named "${tool.name}" (tool id "${holder}"), which this import did not create`);
        continue;
      }
      candidates.push(tool);
    }
    // The write-time checks putTool runs (definition schema, compiled input and output schemas,
    // egress policy, env allow-list, size ceiling): a tool they refuse is left out with the reason,
    // so one unreachable host does not stop the rest. The mapper in the worker does not compile
    // schemas; this is the one check of each, held until the batch is applied (see checkTools);
    // the validators' code waits for each tool's first call (see SchemaCompiler).
    const verdicts = await service.checkTools(candidates.map((tool) => ({ id: tool.id, value: tool })));
    // A tool refused with an output schema (too large or too deep once resolved) is checked again
    // without it: the schema is optional, the operation is not.
    const retried = candidates.flatMap((tool, index) =>
      isGatewayError(verdicts.results[index]) && tool.output_schema !== undefined ? [{ index, tool: withoutOutputSchema(tool) }] : [],
    );
    const second = await service.checkTools(retried.map(({ tool }) => ({ id: tool.id, value: tool })));
    const verdictOf = new Map(retried.map(({ index }, at) => [index, second.results[at] as ToolDefinition | GatewayError]));
    const withoutOutputs: string[] = [];
    try {
      for (const [index, candidate] of candidates.entries()) {
        let tool = candidate;
        let checked = verdicts.results[index] as ToolDefinition | GatewayError;
        const withoutOutput = verdictOf.get(index);
        if (isGatewayError(checked) && withoutOutput !== undefined && !isGatewayError(withoutOutput)) {
          withoutOutputs.push(`${operationOf(tool)}: imported without output_schema; the gateway would refuse the tool with it: ${checked.message}`);
          tool = withoutOutputSchema(tool);
          checked = withoutOutput;
        }
        if (isGatewayError(checked)) {
          skip(tool, `the gateway would refuse the tool: ${checked.message}`);
          continue;
        }
        const existing = tools.get(tool.id);
        importIds.push(tool.id);
        if (existing === undefined) {
          result.created.push(tool.id);
          operations.push({ op: 'put', kind: 'tds', id: tool.id, value: checked, ifRevision: 0 });
        } else if (canonicalJson(existing.value) === canonicalJson(checked)) {
          result.unchanged.push(tool.id);
        } else {
          result.updated.push(tool.id);
          operations.push({ op: 'put', kind: 'tds', id: tool.id, value: checked, ifRevision: existing.revision });
        }
      }
      result.warnings.push(...withoutOutputs.slice(0, MAX_OUTPUT_WARNINGS));
      if (withoutOutputs.length > MAX_OUTPUT_WARNINGS) {
        result.warnings.push(`… and ${withoutOutputs.length - MAX_OUTPUT_WARNINGS} more operations imported without output_schema`);
      }
      const kept = new Set(importIds);
      for (const id of owned) {
        if (kept.has(id)) continue;
        result.deleted.push(id);
        operations.push({ op: 'delete', kind: 'tds', id, ifRevision: (tools.get(id) as StoredRecord).revision });
      }

      // The instance's own ids stay where they are; the import's new ones follow.
      const deleted = new Set(result.deleted);
      const toolIds = [...currentIds.filter((id) => !deleted.has(id)), ...importIds.filter((id) => !currentIds.includes(id))];
      const name = request.instanceName ?? instance?.name ?? (planned.title.trim().slice(0, 256) || request.instanceId);
      const nextInstance: InstanceDefinition = { ...instance, id: request.instanceId, name, tool_ids: toolIds };
      if (operations.length > 0 || instance === undefined || canonicalJson(nextInstance) !== canonicalJson({ ...instance, id: request.instanceId })) {
        // Written with the tools even when only they changed: its precondition is what makes a
        // concurrent edit of the instance fail the import.
        operations.push({ op: 'put', kind: 'ids', id: request.instanceId, value: nextInstance, ifRevision: instanceRecord?.revision ?? 0 });
      }
      if (operations.length === 0) return result;
      // A dry run makes the write's checks too (a name two tools of an instance would share), so its plan is the write's.
      if (request.dryRun) {
        await service.checkBatch(operations);
        return result;
      }
      try {
        // Answered once this replica serves the import (read-your-writes on /mcp), which for a large
        // API takes longer than an admin write's usual wait: up to the import's own time limit.
        const options = { applyTimeoutMs: Math.max(limits.timeoutMs, IMPORT_APPLY_TIMEOUT_MS) };
        ({ revision: result.revision, applied: result.applied } = await service.applyBatch(operations, { principal, action: 'import' }, options));
      } catch (error) {
        if (isGatewayError(error) && error.code === 'PAYLOAD_TOO_LARGE') {
          throw new GatewayError(
            'PAYLOAD_TOO_LARGE',
            `the import writes ${operations.length} definitions in one transaction, more than the store accepts; nothing was written. ` +
              `On etcd, each definition costs 2 operations (the record and its history entry): raise its --max-txn-ops (default 128) ` +
              `to at least ${2 * operations.length} (and --max-request-bytes if the definitions are large), ` +
              'or import fewer operations with include/exclude',
            { cause: error, data: { operations: operations.length } },
          );
        }
        throw error;
      }
      return result;
    } finally {
      verdicts.release();
      second.release();
    }
  };
}

/** Operations named one by one when they lose their output schema; the rest are counted. */
const MAX_OUTPUT_WARNINGS = 20;

function withoutOutputSchema(tool: ToolDefinition): ToolDefinition {
  const { output_schema: _dropped, ...rest } = tool;
  return rest;
}

/** Runs one OpenAPI import (see {@link createOpenApiImporter}). */
export type OpenApiImporter = ReturnType<typeof createOpenApiImporter>;
