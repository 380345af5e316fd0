// The public surface of the executor module: the built-in `http` tool kind and the pieces other
// parts of core reuse (definition checks, header rules). Named exports only.
export { createHttpExecutor, MAX_REDIRECTS } from './http-executor.js';
export type { HttpExecutor, HttpExecutorOptions } from './http-executor.js';
export {
  ARGUMENT_GROUPS,
  FORBIDDEN_HEADER_NAMES,
  HTTP_METHODS,
  MAX_TIMEOUT_MS,
  argumentStyleOf,
  compileHttpTool,
  isAllowedHeaderName,
  parseDomain,
} from './http-tool-config.js';
export type { ArgumentStyle, CompiledHttpTool, HttpMethod } from './http-tool-config.js';
export { parseEnvTemplate, resolveEnvTemplate } from './env-template.js';
export type { EnvResolution, EnvSource, EnvTemplate } from './env-template.js';
export { compilePathTemplate, expandPathTemplate } from './path-template.js';
export type { PathExpansion, PathPlaceholder, PathTemplate } from './path-template.js';
export { buildHttpRequest } from './request-builder.js';
export type { BuiltRequest, RequestBuild } from './request-builder.js';
export { EXCERPT_BYTES, RESULT_MAPPINGS, bodyExcerpt, errorOutcome, mapEventStreamOutcome, mapUpstreamAnswer } from './response-mapper.js';
export type { ResponseMapping, ResultMapping, ResultMappingKind, UpstreamAnswer } from './response-mapper.js';
export { createEventStreamParser, createUpstreamEventHandler } from './event-stream.js';
export type { EventStreamOutcome, EventStreamParser, ServerSentEvent, UpstreamEventHandler } from './event-stream.js';
export { MAX_PARTS, multipartBoundary, parseMultipart } from './multipart.js';
export type { BodyPart } from './multipart.js';
export { httpExecutorPlugin } from './http-executor-plugin.js';
export { HTTP_CLIENTS } from './http-executor.js';
export type { HttpClientName } from './http-executor.js';
