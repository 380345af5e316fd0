// The public surface of @dynmcp/common. Named exports only.
export { configSchema, loadConfig } from './config/index.js';
export type { GatewayConfig, LoadConfigOptions } from './config/index.js';
export { createLogger } from './logger/index.js';
export type { CreateLoggerOptions } from './logger/index.js';
export {
  compileToolDefinition,
  createSchemaCompiler,
  formatErrors,
  instanceJsonSchema,
  instanceMetadata,
  instanceProtoType,
  MAX_DEFINITION_BYTES,
  MAX_SCHEMA_DEPTH,
  parseInstanceDefinition,
  toolJsonSchema,
} from './model/index.js';
export type { ArgumentValidator, CompiledTool, SchemaCompiler } from './model/index.js';
export {
  applyOverride,
  buildInstanceView,
  createLiveDefinitions,
  entryTakes,
  expandToolIds,
  isSelector,
  mergeArguments,
  servedAsIs,
  serveTool,
  toolListing,
} from './live/index.js';
export type {
  LiveDefinitions,
  LiveDefinitionsOptions,
  InstanceView,
  DefinitionsChange,
  DefinitionsStatus,
  LiveTool,
  ServedTool,
  ToolListing,
} from './live/index.js';
export { createApiKeyAuthProvider, parseAdminKey, presentedApiKey } from './auth/index.js';
export type { AdminKey, ApiKeyAuthOptions, ScopedApiKey } from './auth/index.js';
export { apiKeyAuthPlugin } from './builtin-plugins.js';
export type { ApiKeyAuthPluginOptions } from './builtin-plugins.js';
