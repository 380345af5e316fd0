// The public surface of @dynmcp/common. Named exports only.
export { configSchema, loadConfig, MAX_TIMER_MS, MIN_SESSION_SECRET_BYTES, parseSessionSecret } from './config/index.js';
export type { GatewayConfig, LoadConfigOptions } from './config/index.js';
export { createLogger, verbosityOf, WRITING_LOG_LEVELS } from './logger/index.js';
export { slicer } from './slices.js';
export type { CreateLoggerOptions, GatewayLogger, LogLevel } from './logger/index.js';
export {
  compileToolDefinition,
  createSchemaCompiler,
  formatErrors,
  instanceJsonSchema,
  instanceMetadata,
  instanceProtoType,
  localRefResolves,
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
  AppliedEvent,
  AppliedRecord,
  LiveDefinitions,
  LiveDefinitionsOptions,
  InstanceView,
  DefinitionsChange,
  DefinitionsStatus,
  LiveTool,
  RecordSink,
  ServedTool,
  ToolListing,
} from './live/index.js';
export { createApiKeyAuthProvider, parseAdminKey, presentedApiKey } from './auth/index.js';
export type { AdminKey, ApiKeyAuthOptions, ScopedApiKey } from './auth/index.js';
export { createOAuthAuthProvider, grantedScopes, presentedBearerToken, issuerMetadataUrls } from './auth/index.js';
export { anonymousPrincipalId, apiKeyPrincipalId, gatewayPrincipalPrefix } from './auth/index.js';
export type { OAuthAuthOptions } from './auth/index.js';
export { apiKeyAuthPlugin, oauthAuthPlugin } from './builtin-plugins.js';
export type { ApiKeyAuthPluginOptions, OAuthAuthPluginOptions } from './builtin-plugins.js';
export {
  CREDENTIAL_KIND,
  CREDENTIAL_NAME,
  MAX_CREDENTIAL_VALUE_BYTES,
  PRINCIPAL_ID,
  assertCredentialName,
  assertPrincipalId,
  checkStoredCredentials,
  createCredentialCipher,
  createLiveCredentials,
  credentialRecordId,
  parseCredentialRecordId,
  parseCredentialsKey,
  parsePreviousCredentialsKeys,
} from './credentials/index.js';
export type { CredentialCipher, CredentialValue, LiveCredentials, LiveCredentialsOptions, StoredCredential, StoredCredentialsCheck } from './credentials/index.js';
