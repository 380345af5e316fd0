export { createMcpGateway } from './mcp-gateway.js';
export type { McpGateway, McpGatewayOptions } from './mcp-gateway.js';
export { createInstanceServerFactory } from './instance-server.js';
export type { InstanceServerDeps } from './instance-server.js';
export { createRequestGuards, isLoopbackHost } from './request-guards.js';
export type { RequestGuardOptions } from './request-guards.js';
