import { createSchemaCompiler } from '@dynmcp/common';
import { filterReason } from './filters.js';
import type { ImportInput, ImportPlan } from './import-options.js';
import { mapOperation } from './map-operation.js';
import type { DocumentContext } from './map-operation.js';
import { readDocument } from './read-document.js';
import { SchemaTooLargeError, MAX_SCHEMA_NODES } from './schema-convert.js';
import { createToolNamer } from './tool-names.js';

/** Operation keys of a path item, in the order the specification lists them. */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** Most warnings returned; the rest are counted in the last one. */
const MAX_WARNINGS = 500;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The checked input of a plan: the tool id prefix is settled. */
export interface PlanRequest extends Omit<ImportInput, 'toolIdPrefix'> {
  toolIdPrefix: string;
  maxBytes: number;
}

/**
 * Reads the document and maps every selected operation to a tool. Runs inside the import worker
 * (see plan-import.ts), where time and memory are bounded. The tools are not compiled here: the
 * admin side checks each as a write of it is checked (compiled schemas included) and skips the
 * ones refused, with the reason; compiling here too would double the import's heaviest work.
 */
export async function buildPlan(request: PlanRequest): Promise<ImportPlan> {
  const { api, specVersion, swaggerBase } = await readDocument(request.document, request.maxBytes);
  const info = isRecord(api['info']) ? api['info'] : {};
  const title = typeof info['title'] === 'string' ? info['title'] : '';
  const version = typeof info['version'] === 'string' ? info['version'] : '';
  const warnings: string[] = [];
  let dropped = 0;
  const warn = (message: string) => {
    if (warnings.length < MAX_WARNINGS) warnings.push(message);
    else dropped++;
  };
  const compiler = createSchemaCompiler();
  const context: DocumentContext = {
    api, title, version, specVersion, swaggerBase, compiler, warn,
    openapi30: specVersion !== '2.0' && specVersion.startsWith('3.0'),
    baseUrl: request.baseUrl,
    auth: request.auth ?? {},
  };
  const schemes = isRecord(api['components']) && isRecord(api['components']['securitySchemes']) ? api['components']['securitySchemes'] : {};
  for (const name of Object.keys(context.auth)) {
    if (!Object.hasOwn(schemes, name)) warn(`auth.${name}: the document defines no security scheme "${name}"; ignored`);
  }
  const nameOf = createToolNamer(warn);
  const plan: ImportPlan = { title, version, tools: [], skipped: [], warnings };
  const paths = isRecord(api['paths']) ? api['paths'] : {};
  for (const [path, pathItem] of Object.entries(paths)) {
    if (!isRecord(pathItem)) continue;
    for (const method of METHODS) {
      const operation = pathItem[method];
      if (!isRecord(operation)) continue;
      const route = `${method.toUpperCase()} ${path}`;
      const operationId = typeof operation['operationId'] === 'string' ? operation['operationId'] : undefined;
      const tags = Array.isArray(operation['tags']) ? operation['tags'].filter((tag): tag is string => typeof tag === 'string') : [];
      const filtered = filterReason(request.include, request.exclude, { path, operationId, tags });
      if (filtered !== undefined) {
        plan.skipped.push({ operation: route, reason: filtered });
        continue;
      }
      const name = nameOf({ method, path, ...(operationId === undefined ? {} : { operationId }) });
      let mapping;
      try {
        mapping = mapOperation({ method, path, operation, pathItem }, name, request.toolIdPrefix + name, context);
      } catch (error) {
        if (!(error instanceof SchemaTooLargeError)) throw error;
        mapping = { ok: false as const, reason: `its schemas expand to more than ${MAX_SCHEMA_NODES} nodes after resolving $refs` };
      }
      if (!mapping.ok) {
        plan.skipped.push({ operation: route, reason: mapping.reason });
        continue;
      }
      plan.tools.push(mapping.tool);
    }
  }
  if (dropped > 0) warnings.push(`… and ${dropped} more warnings`);
  return plan;
}
