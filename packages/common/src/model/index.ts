export { createSchemaCompiler, formatErrors, localRefResolves, MAX_SCHEMA_DEPTH } from './schema-compiler.js';
export type { ArgumentValidator, SchemaCompiler } from './schema-compiler.js';
export {
  instanceJsonSchema,
  instanceMetadata,
  instanceProtoType,
  MAX_DEFINITION_BYTES,
  parseInstanceDefinition,
  compileToolDefinition,
  toolJsonSchema,
} from './definitions.js';
export type { CompiledTool } from './definitions.js';
