import { GatewayError } from '@dynmcp/plugin';
import type { ImportFilters } from '../openapi/index.js';

/** The body of `POST /admin/import/openapi`, checked. */
export interface ImportRequest {
  document: unknown;
  instanceId: string;
  instanceName: string | undefined;
  toolIdPrefix: string | undefined;
  baseUrl: string | undefined;
  auth: Record<string, string> | undefined;
  include: ImportFilters | undefined;
  exclude: ImportFilters | undefined;
  dryRun: boolean;
}

const KEYS = ['document', 'instance_id', 'instance_name', 'tool_id_prefix', 'base_url', 'auth', 'include', 'exclude', 'dry_run'];
// The admin API's id rule (see docs/admin-api.md): no id made only of dots, which clients resolve away.
const INSTANCE_ID = /^\.*[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$/;

const invalid = (message: string) => new GatewayError('INVALID_PAYLOAD', message);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(body: Record<string, unknown>, key: string, maxLength: number): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw invalid(`${key} must be a non-empty string of at most ${maxLength} characters`);
  }
  return value;
}

function filters(body: Record<string, unknown>, key: string): ImportFilters | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (!isRecord(value)) throw invalid(`${key} must be an object with tags, operation_ids and/or paths (lists of strings)`);
  // The mapper checks the fields themselves (names, lists of strings).
  return value as ImportFilters;
}

/**
 * Checks the request body of an OpenAPI import: known keys only (an unknown one is named, so a
 * misspelt `dry_run` never writes), the type of each, and the instance id as the admin API spells
 * ids. The document itself is the mapper's to judge.
 */
export function parseImportRequest(body: unknown): ImportRequest {
  if (!isRecord(body)) throw invalid('the body must be a JSON object: { "document": …, "instance_id": "…", … }');
  const unknown = Object.keys(body).filter((key) => !KEYS.includes(key));
  if (unknown.length > 0) {
    throw invalid(`unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key.slice(0, 100)}"`).join(', ')}; known: ${KEYS.join(', ')}`);
  }
  const document = body['document'];
  if (typeof document !== 'string' && !isRecord(document)) {
    throw invalid('document is required: the OpenAPI 3.0/3.1 or Swagger 2.0 document, as an object or as its JSON or YAML text');
  }
  const instanceId = body['instance_id'];
  if (typeof instanceId !== 'string' || instanceId.length > 128 || !INSTANCE_ID.test(instanceId)) {
    throw invalid('instance_id is required: letters, digits and _ . : -, at most 128, not only dots');
  }
  const auth = body['auth'];
  if (auth !== undefined && (!isRecord(auth) || Object.values(auth).some((value) => typeof value !== 'string'))) {
    throw invalid('auth must be an object mapping security scheme names to header value templates, e.g. { "bearer": "Bearer ${env:TOKEN}" }');
  }
  const dryRun = body['dry_run'];
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw invalid('dry_run must be true or false');
  const toolIdPrefix = body['tool_id_prefix'];
  if (toolIdPrefix !== undefined && typeof toolIdPrefix !== 'string') throw invalid('tool_id_prefix must be a string');
  return {
    document,
    instanceId,
    instanceName: optionalString(body, 'instance_name', 256),
    toolIdPrefix,
    baseUrl: optionalString(body, 'base_url', 2048),
    auth: auth as Record<string, string> | undefined,
    include: filters(body, 'include'),
    exclude: filters(body, 'exclude'),
    dryRun: dryRun === true,
  };
}
