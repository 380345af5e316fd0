// The public surface of the executor module: the built-in `http` tool kind and the pieces other
// parts of core reuse (definition checks, header rules). Named exports only.
export { createHttpExecutor, MAX_REDIRECTS } from './http-executor.js';
export type { HttpExecutor, HttpExecutorOptions } from './http-executor.js';
export {
  ARGUMENT_GROUPS,
  BODY_CONTENT_TYPES,
  FORBIDDEN_HEADER_NAMES,
  HTTP_METHODS,
  MAX_TIMEOUT_MS,
  QUERY_STYLES,
  argumentStyleOf,
  compileHttpTool,
  isAllowedHeaderName,
  parseDomain,
  redirectPrefixOf,
} from './http-tool-config.js';
export type {
  ArgumentStyle,
  BodyContentType,
  CompiledHttpTool,
  HttpMethod,
  QueryCredential,
  QueryParameter,
  QueryStyle,
} from './http-tool-config.js';
export { REFERENCE_SOURCES, parseEnvTemplate, referenceText, resolveEnvTemplate } from './env-template.js';
export type {
  EnvResolution,
  EnvSource,
  EnvTemplate,
  ReferenceSource,
  ReferenceValue,
  TemplateReference,
  TemplateValues,
} from './env-template.js';
export { GATEWAY_ENV_PREFIX, compileEnvAllowList, createTemplateValues, credentialRoute } from './template-values.js';
export type { CheckedTemplateValues, PrincipalCredentials, TemplateValuesOptions } from './template-values.js';
export { DEFAULT_SECRETS_DIR, MAX_SECRET_BYTES, SECRET_RECHECK_MS, createSecretFiles } from './secret-files.js';
export type { SecretFiles } from './secret-files.js';
export { BUILT_IN_DENIED, createEgressPolicy, egressRemedy, embeddedIpv4, parseEgressRule } from './egress-policy.js';
export type { EgressDenial, EgressPolicy, EgressPolicyOptions, EgressRuleOrigin } from './egress-policy.js';
export { EgressDeniedError, createEgressLookup, findEgressDenial } from './egress-lookup.js';
export type { ConnectLookup, HostResolver } from './egress-lookup.js';
export { MAX_JSON_DEPTH, exceedsJsonDepth } from './json-depth.js';
export { compilePathTemplate, expandPathTemplate } from './path-template.js';
export type { PathExpansion, PathPlaceholder, PathTemplate } from './path-template.js';
export { buildHttpRequest } from './request-builder.js';
export type { BuiltRequest, RequestBuild, RequestLimits } from './request-builder.js';
export { EXCERPT_BYTES, RESULT_MAPPINGS, bodyExcerpt, errorOutcome, mapEventStreamOutcome, mapUpstreamAnswer } from './response-mapper.js';
export type { ResponseMapping, ResultMapping, ResultMappingKind, UpstreamAnswer } from './response-mapper.js';
export { createEventStreamParser, createUpstreamEventHandler } from './event-stream.js';
export type { EventStreamOutcome, EventStreamParser, ServerSentEvent, UpstreamEventHandler } from './event-stream.js';
export { MAX_PARTS, multipartBoundary, parseMultipart } from './multipart.js';
export type { BodyPart } from './multipart.js';
export { httpExecutorPlugin } from './http-executor-plugin.js';
export { MASK, SHOWN_BODY_BYTES, canPrepare, isCredentialName, previewRequest, shownBody } from './dry-run.js';
export type { ObservedCallContext, PreparedCall, PreparingExecutor, RequestPreview, UpstreamExchange, UpstreamObserver } from './dry-run.js';
export { HTTP_CLIENTS } from './http-executor.js';
export type { HttpClientName } from './http-executor.js';
