// The public surface of @dynmcp/core: the MCP protocol per instance and the built-in tool executor.
export {
  createInstanceServerFactory,
  createMcpGateway,
  createToolCaller,
  createRequestGuards,
  isLoopbackHost,
  JsonRpcErrorCode,
  ownerKey,
  replyJsonRpc,
  replyJsonRpcError,
  CALL_OUTCOMES,
  MCP_ERAS,
  MCP_METHODS,
  NO_CALL_METRICS,
  REJECTION_REASONS,
  eraOf,
  methodOf,
} from './mcp/index.js';
export type {
  CallMetrics,
  CallOutcome,
  McpEra,
  McpMethod,
  RejectionReason,
  ToolCallMetrics,
  InstanceServerDeps,
  McpCaller,
  McpGateway,
  McpGatewayOptions,
  PrincipalLimits,
  RequestGuardOptions,
  ToolCaller,
} from './mcp/index.js';
export { QUERY_STYLES, canPrepare, createHttpExecutor, httpExecutorPlugin, parseEnvTemplate, shownBody } from './executor/index.js';
export type {
  HttpExecutorOptions,
  PreparedCall,
  PreparingExecutor,
  QueryParameter,
  QueryStyle,
  RequestPreview,
  UpstreamExchange,
} from './executor/index.js';
