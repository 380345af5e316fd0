// The public surface of @dynmcp/core: the MCP protocol per instance and the built-in tool executor.
export { createInstanceServerFactory, createMcpGateway, createRequestGuards, isLoopbackHost } from './mcp/index.js';
export type { InstanceServerDeps, McpGateway, McpGatewayOptions, RequestGuardOptions } from './mcp/index.js';
export { createHttpExecutor, httpExecutorPlugin } from './executor/index.js';
export type { HttpExecutorOptions } from './executor/index.js';
