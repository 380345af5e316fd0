// The public surface of @dynmcp/core: the MCP protocol per instance and the built-in tool executor.
export { createInstanceServerFactory, createMcpGateway, createRequestGuards, isLoopbackHost, ownerKey } from './mcp/index.js';
export type {
  InstanceServerDeps,
  McpCaller,
  McpGateway,
  McpGatewayOptions,
  PrincipalLimits,
  RequestGuardOptions,
} from './mcp/index.js';
export { createHttpExecutor, httpExecutorPlugin } from './executor/index.js';
export type { HttpExecutorOptions } from './executor/index.js';
