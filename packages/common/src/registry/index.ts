export { createConfigRegistry } from './config-registry.js';
export type { ConfigRegistry, ConfigRegistryOptions, RegistryChange, RegistryStatus } from './config-registry.js';
export { buildInstanceView, toolListing } from './instance-view.js';
export type { InstanceView, RegistryTool, ToolListing } from './instance-view.js';
