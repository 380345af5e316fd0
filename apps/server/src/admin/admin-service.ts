import {
  applyOverride,
  compileToolDefinition,
  expandToolIds,
  isSelector,
  parseInstanceDefinition,
  slicer,
  type LiveDefinitions,
  type SchemaCompiler,
} from '@dynmcp/common';
import {
  GatewayError,
  isGatewayError,
  RECORD_KINDS,
  requireBatch,
  type BatchOperation,
  type BatchResult,
  type DataSource,
  type InstanceDefinition,
  type RecordKind,
  type StoredRecord,
  type ToolDefinition,
  type Logger,
  type ToolExecutor,
  type WriteMetadata,
} from '@dynmcp/plugin';
import type { GatewayStatus } from '../replicas/replica-status.js';
import { assertStoreReachable, settleWrite } from './admin-support.js';

/** A definition as the admin API returns it, with the revision that is its ETag. */
export interface AdminRecord<T> {
  value: T;
  revision: number;
}

/** Extra facts a write or read reports beside the definition. */
export interface AdminMeta {
  revision: number;
  /** Instance: listed tool ids with no definition (left out of tools/list). */
  missing_tool_ids?: string[];
  /** Tool: instances that list it. */
  used_by?: string[];
}

/**
 * One change of {@link AdminService.applyBatch}: a tool (`tds`) or instance (`ids`) definition to
 * put, or one to delete, each with an optional `ifRevision` precondition (`0`: only if absent).
 */
export type AdminBatchOperation =
  | { op: 'put'; kind: RecordKind; id: string; value: unknown; ifRevision?: number }
  | { op: 'delete'; kind: RecordKind; id: string; ifRevision?: number };

/** Options of one {@link AdminService.applyBatch}. */
export interface ApplyBatchOptions {
  /** How long to wait for the local live definitions to apply the batch; default the service's `applyTimeoutMs`. */
  applyTimeoutMs?: number;
}

/** What {@link AdminService.applyBatch} answers: the store's result, and whether this replica applied it in time. */
export interface AppliedBatch extends BatchResult {
  /** `false` when the wait for this replica to apply the batch ran out; it is stored all the same. */
  applied: boolean;
}

/**
 * Tool definitions checked by {@link AdminService.checkTools}: each the definition as it would be
 * stored, or the error that refuses it. Their compiled schemas stay in the shared compiler's cache
 * until `release()`, so a write of them, and the live definitions' compile of that write, are
 * lookups rather than second and third compiles.
 */
export interface CheckedTools {
  results: Array<ToolDefinition | GatewayError>;
  release(): void;
}

/**
 * Runs `step` on each item in slices (see {@link slicer}): a batch can carry a thousand tools,
 * whose schemas take seconds to compile. As the live definitions do it.
 */
async function inSlices<T>(items: readonly T[], step: (item: T, index: number) => void): Promise<void> {
  const pause = slicer();
  for (let index = 0; index < items.length; index++) {
    step(items[index] as T, index);
    const paused = pause();
    if (paused !== undefined) await paused;
  }
}

/** Options of {@link createAdminService}. */
export interface AdminServiceOptions {
  datasource: DataSource;
  definitions: LiveDefinitions;
  compiler: SchemaCompiler;
  executorFor(kind: string): ToolExecutor | undefined;
  /** How long a write waits for the local live definitions to apply it (read-your-writes on /mcp). */
  applyTimeoutMs?: number;
  /** Where a write that was stored but not applied here in time is reported. */
  logger?: Logger;
  /** `GET /admin/status`: the replicas of this gateway (see `replicas/replica-status.ts`); 404 without it. */
  status?: () => Promise<GatewayStatus>;
}

/**
 * The admin API's logic, apart from HTTP: validation, conflict checks, writes through the store.
 * It never touches the live definitions' contents; after a write it waits until the live definitions have applied
 * the write from the feed, so the next tools/list on this replica already shows it.
 */
export function createAdminService(options: AdminServiceOptions) {
  const { datasource, definitions, compiler } = options;
  const applyTimeoutMs = options.applyTimeoutMs ?? 2000;

  const settle = (revision: number, timeoutMs = applyTimeoutMs) => settleWrite(definitions, revision, timeoutMs, options.logger);

  /**
   * The tool definitions the checks compare against: the live definitions', which this replica keeps
   * current from the store's feed (and has applied this replica's own writes to), so a write costs
   * no scan of the whole store. A tool the live definitions refused as invalid counts as missing, as it is
   * missing from tools/list.
   */
  function knownTool(toolId: string): ToolDefinition | undefined {
    return definitions.tool(toolId)?.definition;
  }

  /** Throws 409 when `instance` would serve two tools under one name (with `replaced` standing in for the stored tool of the same id). */
  function assertUniqueNames(instance: InstanceDefinition, replaced?: ToolDefinition) {
    const toolOf = (toolId: string) => (replaced?.id === toolId ? replaced : knownTool(toolId));
    assertUniqueNamesOf(instance, toolOf, replaced === undefined ? [] : [replaced.id]);
  }

  /**
   * The tool ids `instance` serves: its selectors expanded against the live tools and `more` (tools
   * a write is about to add), each id resolved by `toolOf`; ids without a tool are left out.
   */
  function servedTools(instance: InstanceDefinition, toolOf: (toolId: string) => ToolDefinition | undefined, more: readonly string[]) {
    const known = more.length === 0 ? definitions.toolIds() : new Set([...definitions.toolIds(), ...more]);
    const served: ToolDefinition[] = [];
    for (const toolId of expandToolIds(instance.tool_ids, known)) {
      const tool = toolOf(toolId);
      if (tool !== undefined) served.push(tool);
    }
    return served;
  }

  /**
   * Throws 409 when `instance`, its tools resolved by `toolOf`, would serve two tools under one
   * name: the name the instance really serves, an override's or the tool's own.
   */
  function assertUniqueNamesOf(instance: InstanceDefinition, toolOf: (toolId: string) => ToolDefinition | undefined, more: readonly string[] = []) {
    const instanceId = instance.id;
    const seen = new Map<string, string>();
    for (const tool of servedTools(instance, toolOf, more)) {
      const toolId = tool.id;
      const name = instance.overrides?.[toolId]?.name ?? tool.name;
      const other = seen.get(name);
      if (other !== undefined && other !== toolId) {
        throw new GatewayError(
          'DUPLICATE_TOOL_NAME',
          `instance "${instanceId}" would have two tools named "${name}" (tool ids "${other}" and "${toolId}"); rename one (an override's name does) or list only one`,
          { data: { instance_id: instanceId, tool_name: name, tool_ids: [other, toolId] } },
        );
      }
      seen.set(name, toolId);
    }
  }

  /**
   * Throws 400 when an override of `instance` does not fit its tool as known now: an argument path
   * the tool's schema does not have, a hidden required argument without a default, a fixed value
   * its property's schema refuses. Tools not known yet are checked by the live definitions once
   * they come (a tool that does not fit is left out of the instance, and logged).
   */
  function assertOverridesFit(instance: InstanceDefinition, toolOf: (toolId: string) => ToolDefinition | undefined, more: readonly string[] = []) {
    if (instance.overrides === undefined) return;
    const problems: string[] = [];
    for (const tool of servedTools(instance, toolOf, more)) {
      const override = instance.overrides[tool.id];
      if (override === undefined) continue;
      const applied = applyOverride(tool, override);
      if ('problems' in applied) {
        problems.push(...applied.problems.map((problem) => `/overrides/${tool.id}: ${problem}`));
        continue;
      }
      for (const fixed of applied.fixedValues) {
        const refused = checkValue(fixed.schema, tool.input_schema, fixed.value);
        if (refused !== undefined) problems.push(`/overrides/${tool.id}: fixed_arguments: "${fixed.path}" ${refused}`);
      }
    }
    if (problems.length > 0) {
      throw new GatewayError('INVALID_PAYLOAD', `invalid instance definition: ${problems.join('; ')}`, { data: { problems } });
    }
  }

  /** What `property` (a subschema of `root`, whose `$defs` its `$ref`s may point into) says is wrong with `value`, or undefined. */
  function checkValue(property: Record<string, unknown>, root: Record<string, unknown>, value: unknown): string | undefined {
    const probe: Record<string, unknown> = { ...property };
    for (const key of ['$schema', '$defs', 'definitions'] as const) if (root[key] !== undefined && probe[key] === undefined) probe[key] = root[key];
    let validate;
    try {
      validate = compiler.compile(probe);
    } catch (error) {
      return `cannot be checked: ${(error as Error).message}`;
    }
    try {
      const problem = validate(value);
      // The value is checked on its own, so its own place is the root: "must be <= 50", not "(root) must be <= 50".
      return problem === undefined ? undefined : `is refused by its schema: ${problem.replace(/(^|; )\(root\) /g, '$1')}`;
    } finally {
      compiler.release(probe);
    }
  }

  /**
   * The tool definition in `body`, checked as a write of it is: schema, compiled schemas, its kind's
   * own checks. Its compiled schemas stay held in the shared compiler until `release()`: a caller
   * that writes the tool releases after the live definitions applied the write, so their compile
   * of it finds the schemas compiled.
   */
  function holdTool(id: string, body: unknown): { tool: ToolDefinition; release(): void } {
    const compiled = compileToolDefinition(body, compiler, id);
    const tool = compiled.definition;
    try {
      const kind = tool.kind ?? 'http';
      const executor = options.executorFor(kind);
      if (executor === undefined) {
        throw new GatewayError('INVALID_PAYLOAD', `invalid tool definition: unknown kind "${kind}"`);
      }
      executor.validate?.(tool);
    } catch (error) {
      compiled.release();
      throw error;
    }
    return { tool, release: compiled.release };
  }

  function validateTool(id: string, body: unknown): ToolDefinition {
    const { tool, release } = holdTool(id, body);
    release();
    return tool;
  }

  /** One batch operation, its definition validated as putTool/putInstance validate theirs; a tool's schemas held (see holdTool) until `holds` are released. */
  function validateOperation(operation: AdminBatchOperation, index: number, holds: Array<() => void>): BatchOperation {
    const { op, kind, id } = operation;
    const where = `batch operation ${index} (${String(kind)} "${String(id)}")`;
    if (!RECORD_KINDS.includes(kind)) {
      throw new GatewayError('INVALID_PAYLOAD', `${where}: kind must be one of ${RECORD_KINDS.join(', ')}`, { data: { index } });
    }
    if (op === 'delete') return { op, kind, id, ifRevision: operation.ifRevision };
    if (op !== 'put') throw new GatewayError('INVALID_PAYLOAD', `${where}: op must be "put" or "delete"`, { data: { index } });
    try {
      let value: ToolDefinition | InstanceDefinition;
      if (kind === 'tds') {
        const held = holdTool(id, operation.value);
        holds.push(held.release);
        value = held.tool;
      } else {
        value = parseInstanceDefinition(operation.value, id);
      }
      return { op, kind, id, value, ifRevision: operation.ifRevision };
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      throw new GatewayError(error.code, `${where}: ${error.message}`, { cause: error, data: { ...error.data, index, kind, id } });
    }
  }

  /**
   * Throws 409 when the batch would give an instance two tools of one name: every instance the
   * batch puts, and every live instance listing a tool it puts, checked against the tools as they
   * will be after it (its puts replacing, its deletes removing the live ones).
   */
  function assertBatchNames(operations: readonly BatchOperation[]) {
    const tools = new Map<string, ToolDefinition | undefined>();
    const instances = new Map<string, InstanceDefinition | undefined>();
    for (const operation of operations) {
      const value = operation.op === 'put' ? operation.value : undefined;
      if (operation.kind === 'tds') tools.set(operation.id, value as ToolDefinition | undefined);
      else instances.set(operation.id, value as InstanceDefinition | undefined);
    }
    const toolOf = (toolId: string) => (tools.has(toolId) ? tools.get(toolId) : knownTool(toolId));
    const checked = new Set<string>();
    const check = (instanceId: string) => {
      if (checked.has(instanceId)) return;
      checked.add(instanceId);
      const instance = instances.has(instanceId) ? instances.get(instanceId) : definitions.instance(instanceId)?.definition;
      if (instance === undefined) return;
      const added = [...tools.keys()];
      assertUniqueNamesOf(instance, toolOf, added);
      if (instances.has(instanceId)) assertOverridesFit(instance, toolOf, added);
    };
    for (const instanceId of instances.keys()) check(instanceId);
    for (const [toolId, tool] of tools) if (tool !== undefined) for (const instanceId of definitions.instancesUsing(toolId)) check(instanceId);
  }

  async function get<T>(kind: RecordKind, id: string): Promise<StoredRecord & { value: T }> {
    assertStoreReachable(datasource);
    const record = await datasource.get(kind, id);
    if (record === undefined) {
      const what = kind === 'tds' ? 'tool' : 'instance';
      throw new GatewayError(kind === 'tds' ? 'TOOL_NOT_FOUND' : 'INSTANCE_NOT_FOUND', `no ${what} with id "${id}"`);
    }
    return record as StoredRecord & { value: T };
  }

  /**
   * A batch's operations validated as their `PUT`s are (in slices, so /mcp answers meanwhile), the
   * store reachable, and no instance left with two tools of one name. `holds` gets what releases
   * the compiled schemas the checks hold.
   */
  async function checkedOperations(operations: readonly AdminBatchOperation[], holds: Array<() => void>): Promise<BatchOperation[]> {
    if (!Array.isArray(operations)) throw new GatewayError('INVALID_PAYLOAD', 'a batch must be an array of operations');
    const checked: BatchOperation[] = [];
    await inSlices(operations, (operation, index) => checked.push(validateOperation(operation, index, holds)));
    assertStoreReachable(datasource);
    assertBatchNames(checked);
    return checked;
  }

  return {
    /**
     * The checks a write of a tool runs, without writing: the definition's schema, its compiled
     * schemas, its kind's own write-time checks (the http executor's egress policy, env allow-list,
     * size ceiling). Returns the definition as it would be stored.
     */
    validateTool,

    /**
     * Checks many tool definitions as {@link validateTool} checks one, in slices that let /mcp
     * answer meanwhile; a refused one is its GatewayError in `results`, at its index. The compiled
     * schemas stay held until `release()` (call it once the tools are written, or not).
     */
    async checkTools(tools: ReadonlyArray<{ id: string; value: unknown }>): Promise<CheckedTools> {
      const holds: Array<() => void> = [];
      const results: Array<ToolDefinition | GatewayError> = [];
      const release = () => holds.splice(0).forEach((done) => done());
      try {
        await inSlices(tools, ({ id, value }) => {
          try {
            const held = holdTool(id, value);
            holds.push(held.release);
            results.push(held.tool);
          } catch (error) {
            if (!isGatewayError(error)) throw error;
            results.push(error);
          }
        });
      } catch (error) {
        release();
        throw error;
      }
      return { results, release };
    },

    /** Every replica and how current it is (`GET /admin/status`). */
    async status(): Promise<GatewayStatus> {
      if (options.status === undefined) throw new GatewayError('NOT_FOUND', 'this gateway reports no replica status');
      return options.status();
    },

    async listTools(): Promise<ToolDefinition[]> {
      assertStoreReachable(datasource);
      return (await datasource.list('tds')).map((record) => record.value as ToolDefinition);
    },

    async getTool(id: string): Promise<{ record: AdminRecord<ToolDefinition>; meta: AdminMeta }> {
      const record = await get<ToolDefinition>('tds', id);
      return { record, meta: { revision: record.revision, used_by: definitions.instancesUsing(id) } };
    },

    async putTool(id: string, body: unknown, ifRevision?: number, metadata?: WriteMetadata) {
      const { tool, release } = holdTool(id, body);
      try {
        assertStoreReachable(datasource);
        const users = definitions.instancesUsing(id);
        for (const instanceId of users) {
          const instance = definitions.instance(instanceId)?.definition;
          if (instance !== undefined) assertUniqueNames(instance, tool);
        }
        const stored = await datasource.put('tds', id, tool, { ifRevision, metadata });
        const applied = await settle(stored.revision);
        return { record: { value: tool, revision: stored.revision }, meta: { revision: stored.revision, used_by: users, applied } };
      } finally {
        release();
      }
    },

    async deleteTool(id: string, ifRevision?: number, metadata?: WriteMetadata) {
      assertStoreReachable(datasource);
      const users = definitions.instancesUsing(id);
      const revision = await datasource.delete('tds', id, { ifRevision, metadata });
      if (revision === undefined) throw new GatewayError('TOOL_NOT_FOUND', `no tool with id "${id}"`);
      const applied = await settle(revision);
      return { revision, used_by: users, applied };
    },

    async listInstances(): Promise<InstanceDefinition[]> {
      assertStoreReachable(datasource);
      return (await datasource.list('ids')).map((record) => record.value as InstanceDefinition);
    },

    async getInstance(id: string) {
      const record = await get<InstanceDefinition>('ids', id);
      const missing = record.value.tool_ids.filter((toolId) => !isSelector(toolId) && knownTool(toolId) === undefined);
      return { record, meta: { revision: record.revision, missing_tool_ids: missing } };
    },

    async putInstance(id: string, body: unknown, ifRevision?: number, metadata?: WriteMetadata) {
      const instance = parseInstanceDefinition(body, id);
      assertStoreReachable(datasource);
      assertUniqueNames(instance);
      assertOverridesFit(instance, knownTool);
      const stored = await datasource.put('ids', id, instance, { ifRevision, metadata });
      const applied = await settle(stored.revision);
      const missing = instance.tool_ids.filter((toolId) => !isSelector(toolId) && knownTool(toolId) === undefined);
      return { record: { value: instance, revision: stored.revision }, meta: { revision: stored.revision, missing_tool_ids: missing, applied } };
    },

    async deleteInstance(id: string, ifRevision?: number, metadata?: WriteMetadata) {
      assertStoreReachable(datasource);
      const revision = await datasource.delete('ids', id, { ifRevision, metadata });
      if (revision === undefined) throw new GatewayError('INSTANCE_NOT_FOUND', `no instance with id "${id}"`);
      const applied = await settle(revision);
      return { revision, applied };
    },

    /**
     * Writes tools and instances together at one revision, or nothing (see `DataSource.batch`):
     * every definition validated as putTool/putInstance validate theirs (an error names the
     * operation's index, kind and id), name conflicts checked against the definitions as they will
     * be after the batch, then one store write, then a wait until this replica's live definitions
     * applied it. A delete of an absent record is ignored (left out of `deleted`). `metadata` goes
     * to every history entry of the batch. Validation runs in slices, so /mcp answers during a
     * large batch. Throws `BATCH_UNSUPPORTED` (501) when the datasource cannot write batches.
     */
    async applyBatch(operations: readonly AdminBatchOperation[], metadata?: WriteMetadata, batchOptions: ApplyBatchOptions = {}): Promise<AppliedBatch> {
      const store = requireBatch(datasource);
      const holds: Array<() => void> = [];
      try {
        const checked = await checkedOperations(operations, holds);
        const result = await store.batch(checked, metadata);
        // Released only after the live definitions applied the batch: their compile of each tool is then a lookup.
        return { ...result, applied: result.written ? await settle(result.revision, batchOptions.applyTimeoutMs) : true };
      } finally {
        holds.forEach((done) => done());
      }
    },

    /**
     * Every check {@link applyBatch} makes, and no write: what a dry run answers, so that it refuses
     * what the write would refuse (an invalid definition, a name two tools of an instance would share).
     */
    async checkBatch(operations: readonly AdminBatchOperation[]): Promise<void> {
      requireBatch(datasource);
      const holds: Array<() => void> = [];
      try {
        await checkedOperations(operations, holds);
      } finally {
        holds.forEach((done) => done());
      }
    },
  };
}

/** The admin service's interface. */
export type AdminService = ReturnType<typeof createAdminService>;
