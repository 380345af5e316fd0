export { createLiveDefinitions } from './live-definitions.js';
export type { LiveDefinitions, LiveDefinitionsOptions, DefinitionsChange, DefinitionsStatus } from './live-definitions.js';
export { buildInstanceView, toolListing } from './instance-view.js';
export type { InstanceView, LiveTool, ToolListing } from './instance-view.js';
