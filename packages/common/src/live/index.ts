export { createLiveDefinitions } from './live-definitions.js';
export type {
  AppliedEvent,
  AppliedRecord,
  LiveDefinitions,
  LiveDefinitionsOptions,
  DefinitionsChange,
  DefinitionsStatus,
  RecordSink,
} from './live-definitions.js';
export { buildInstanceView, servedAsIs, serveTool, toolListing } from './instance-view.js';
export type { InstanceView, LiveTool, ServedTool, ToolListing } from './instance-view.js';
export { applyOverride, entryTakes, expandToolIds, isSelector, mergeArguments } from './tool-overrides.js';
export type { AppliedOverride } from './tool-overrides.js';
