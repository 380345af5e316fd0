// The public surface of @dynmcp/plugin: what plugin authors depend on. Named exports only; adding
// one here makes it public API.
export { ERROR_STATUS, GatewayError, isGatewayError, isPermanentFailure } from './errors.js';
export type { ErrorCode, GatewayErrorOptions } from './errors.js';
export { createRecordingLogger, silentLogger } from './logger.js';
export type { Logger, RecordedLogLine } from './logger.js';
export { RECORD_KINDS } from './model.js';
export type {
  CallLimits,
  InstanceDefinition,
  InstanceMetadata,
  JsonObject,
  ProtoType,
  RecordKind,
  ToolDefinition,
  ToolHttpInfo,
  ToolOverride,
} from './model.js';
export { requireBatch, requireHistory, supportsBatch, supportsHistory } from './batch.js';
export type { BatchingDataSource, HistoryDataSource } from './batch.js';
export type {
  AuditEntry,
  HistoryEntry,
  WriteAction,
  WriteMetadata,
  BatchOperation,
  BatchResult,
  Change,
  DataSource,
  DataSourceContext,
  DataSourceHealth,
  FeedEvent,
  FeedHandlers,
  FeedSubscription,
  StoredRecord,
  WriteOptions,
} from './datasource.js';
export { TOOL_LOG_LEVELS } from './executor.js';
export type { CallCancellation, ToolCallContext, ToolCallOutcome, ToolContent, ToolExecutor, ToolLogLevel, ToolResult } from './executor.js';
export type { AuthProvider, AuthRequest, Principal } from './auth.js';
export type { ReplicaAnnouncement, ReplicaInfo, ReplicaListing } from './replica.js';
export { createPluginRegistry } from './plugin-registry.js';
export type { PluginRegistry } from './plugin-registry.js';
export {
  checkPluginShape,
  defineAuthPlugin,
  defineDataSourcePlugin,
  defineToolExecutorPlugin,
  isSupportedPluginApiVersion,
  MIN_PLUGIN_API_VERSION,
  PLUGIN_API_VERSION,
} from './plugin.js';
export type {
  AuthPlugin,
  DataSourcePlugin,
  DynmcpPlugin,
  ParsesOptions,
  PluginContext,
  PluginMeta,
  PluginOptionsOf,
  RawPluginOptions,
  ToolExecutorPlugin,
} from './plugin.js';
export { readPluginOptions } from './plugin-options.js';
export type { PluginOptionsReader } from './plugin-options.js';
export { mayUseInstance } from './access.js';
