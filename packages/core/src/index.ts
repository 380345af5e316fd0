// The public surface of @dynmcp/core: the MCP protocol per instance and the built-in tool executor.
export {
  createInstanceServerFactory,
  createMcpGateway,
  createRequestGuards,
  isLoopbackHost,
  JsonRpcErrorCode,
  ownerKey,
  replyJsonRpc,
  replyJsonRpcError,
} from './mcp/index.js';
export type {
  InstanceServerDeps,
  McpCaller,
  McpGateway,
  McpGatewayOptions,
  PrincipalLimits,
  RequestGuardOptions,
} from './mcp/index.js';
export { QUERY_STYLES, createHttpExecutor, httpExecutorPlugin, parseEnvTemplate } from './executor/index.js';
export type { HttpExecutorOptions, QueryParameter, QueryStyle } from './executor/index.js';
