// The OpenAPI import: maps a document to tool definitions without writing them. Named exports only.
export { createImportPlanner, planImport } from './plan-import.js';
export type { ImportPlanner, ImportPlannerOptions } from './plan-import.js';
export { DEFAULT_IMPORT_LIMITS } from './import-options.js';
export type { ImportFilters, ImportInput, ImportLimits, ImportPlan, SkippedOperation } from './import-options.js';
