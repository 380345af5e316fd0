import {
  compileToolDefinition,
  parseInstanceDefinition,
  type LiveDefinitions,
  type SchemaCompiler,
} from '@dynmcp/common';
import {
  GatewayError,
  type DataSource,
  type InstanceDefinition,
  type RecordKind,
  type StoredRecord,
  type ToolDefinition,
  type ToolExecutor,
} from '@dynmcp/plugin';

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

/** Options of {@link createAdminService}. */
export interface AdminServiceOptions {
  datasource: DataSource;
  definitions: LiveDefinitions;
  compiler: SchemaCompiler;
  executorFor(kind: string): ToolExecutor | undefined;
  /** How long a write waits for the local live definitions to apply it (read-your-writes on /mcp). */
  applyTimeoutMs?: number;
}

/**
 * The admin API's logic, apart from HTTP: validation, conflict checks, writes through the store.
 * It never touches the live definitions' contents; after a write it waits until the live definitions have applied
 * the write from the feed, so the next tools/list on this replica already shows it.
 */
export function createAdminService(options: AdminServiceOptions) {
  const { datasource, definitions, compiler } = options;
  const applyTimeoutMs = options.applyTimeoutMs ?? 2000;

  /**
   * Fails fast while the store is unreachable instead of waiting on a dead connection; nothing is
   * written. Reads fail too: an admin reading stale definitions would write over newer ones.
   */
  function assertStoreReachable() {
    const health = datasource.health();
    if (!health.connected) {
      throw new GatewayError('STORE_UNAVAILABLE', `the store is unreachable (${health.reason ?? 'not connected'}); nothing was changed, retry later`);
    }
  }

  async function settle(revision: number) {
    await definitions.waitForRevision(revision, applyTimeoutMs);
  }

  /**
   * The tool definitions the checks compare against: the live definitions', which this replica keeps
   * current from the store's feed (and has applied this replica's own writes to), so a write costs
   * no scan of the whole store. A tool the live definitions refused as invalid counts as missing, as it is
   * missing from tools/list.
   */
  function knownTool(toolId: string): ToolDefinition | undefined {
    return definitions.tool(toolId)?.definition;
  }

  /** Throws 409 when listing `toolIds` (with `override` replacing stored tools) repeats a tool name. */
  function assertUniqueNames(instanceId: string, toolIds: readonly string[], replaced?: ToolDefinition) {
    const seen = new Map<string, string>();
    for (const toolId of toolIds) {
      const tool = replaced?.id === toolId ? replaced : knownTool(toolId);
      if (tool === undefined) continue;
      const other = seen.get(tool.name);
      if (other !== undefined && other !== toolId) {
        throw new GatewayError(
          'DUPLICATE_TOOL_NAME',
          `instance "${instanceId}" would have two tools named "${tool.name}" (tool ids "${other}" and "${toolId}"); rename one or list only one`,
          { data: { instance_id: instanceId, tool_name: tool.name, tool_ids: [other, toolId] } },
        );
      }
      seen.set(tool.name, toolId);
    }
  }



  async function get<T>(kind: RecordKind, id: string): Promise<StoredRecord & { value: T }> {
    assertStoreReachable();
    const record = await datasource.get(kind, id);
    if (record === undefined) {
      const what = kind === 'tds' ? 'tool' : 'instance';
      throw new GatewayError(kind === 'tds' ? 'TOOL_NOT_FOUND' : 'INSTANCE_NOT_FOUND', `no ${what} with id "${id}"`);
    }
    return record as StoredRecord & { value: T };
  }

  return {
    async listTools(): Promise<ToolDefinition[]> {
      assertStoreReachable();
      return (await datasource.list('tds')).map((record) => record.value as ToolDefinition);
    },

    async getTool(id: string): Promise<{ record: AdminRecord<ToolDefinition>; meta: AdminMeta }> {
      const record = await get<ToolDefinition>('tds', id);
      return { record, meta: { revision: record.revision, used_by: definitions.instancesUsing(id) } };
    },

    async putTool(id: string, body: unknown, ifRevision?: number) {
      const compiled = compileToolDefinition(body, compiler, id);
      compiled.release(); // validated here; the live definitions compile their own copy from the feed
      const tool = compiled.definition;
      const kind = tool.kind ?? 'http';
      const executor = options.executorFor(kind);
      if (executor === undefined) {
        throw new GatewayError('INVALID_PAYLOAD', `invalid tool definition: unknown kind "${kind}"`);
      }
      executor.validate?.(tool);
      assertStoreReachable();
      const users = definitions.instancesUsing(id);
      for (const instanceId of users) {
        const instance = definitions.instance(instanceId)?.definition;
        if (instance !== undefined) assertUniqueNames(instanceId, instance.tool_ids, tool);
      }
      const stored = await datasource.put('tds', id, tool, { ifRevision });
      await settle(stored.revision);
      return { record: { value: tool, revision: stored.revision }, meta: { revision: stored.revision, used_by: users } };
    },

    async deleteTool(id: string, ifRevision?: number) {
      assertStoreReachable();
      const users = definitions.instancesUsing(id);
      const revision = await datasource.delete('tds', id, { ifRevision });
      if (revision === undefined) throw new GatewayError('TOOL_NOT_FOUND', `no tool with id "${id}"`);
      await settle(revision);
      return { revision, used_by: users };
    },

    async listInstances(): Promise<InstanceDefinition[]> {
      assertStoreReachable();
      return (await datasource.list('ids')).map((record) => record.value as InstanceDefinition);
    },

    async getInstance(id: string) {
      const record = await get<InstanceDefinition>('ids', id);
      const missing = record.value.tool_ids.filter((toolId) => knownTool(toolId) === undefined);
      return { record, meta: { revision: record.revision, missing_tool_ids: missing } };
    },

    async putInstance(id: string, body: unknown, ifRevision?: number) {
      const instance = parseInstanceDefinition(body, id);
      assertStoreReachable();
      assertUniqueNames(id, instance.tool_ids);
      const stored = await datasource.put('ids', id, instance, { ifRevision });
      await settle(stored.revision);
      const missing = instance.tool_ids.filter((toolId) => knownTool(toolId) === undefined);
      return { record: { value: instance, revision: stored.revision }, meta: { revision: stored.revision, missing_tool_ids: missing } };
    },

    async deleteInstance(id: string, ifRevision?: number) {
      assertStoreReachable();
      const revision = await datasource.delete('ids', id, { ifRevision });
      if (revision === undefined) throw new GatewayError('INSTANCE_NOT_FOUND', `no instance with id "${id}"`);
      await settle(revision);
      return { revision };
    },
  };
}

/** The admin service's interface. */
export type AdminService = ReturnType<typeof createAdminService>;
