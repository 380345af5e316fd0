import type { Request, RequestHandler } from 'express';
import { GatewayError, RECORD_KINDS, type RecordKind } from '@dynmcp/plugin';
import { sendSuccess } from '../http/envelope.js';
import type { AdminBatchOperation, AdminService } from './admin-service.js';

/** At most this many operations in one `POST /admin/batch`: a whole repository of definitions, not a flood. */
export const MAX_BATCH_OPERATIONS = 10_000;

const OPERATION_KEYS = ['op', 'kind', 'id', 'value', 'if_revision'];

const invalid = (message: string, index?: number) =>
  new GatewayError('INVALID_PAYLOAD', message, index === undefined ? undefined : { data: { index } });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One operation of the body, its shape checked; the definitions themselves are the service's to judge. */
function parseOperation(raw: unknown, index: number): AdminBatchOperation {
  const where = `operations[${index}]`;
  if (!isRecord(raw)) throw invalid(`${where} must be an object: { "op": "put" | "delete", "kind": "tds" | "ids", "id": "…", "value"?: {…} }`, index);
  const unknown = Object.keys(raw).filter((key) => !OPERATION_KEYS.includes(key));
  if (unknown.length > 0) throw invalid(`${where}: unknown key "${unknown[0]!.slice(0, 100)}"; known: ${OPERATION_KEYS.join(', ')}`, index);
  const { op, kind, id, value } = raw;
  if (op !== 'put' && op !== 'delete') throw invalid(`${where}: op must be "put" or "delete"`, index);
  if (typeof kind !== 'string' || !RECORD_KINDS.includes(kind as RecordKind)) {
    throw invalid(`${where}: kind must be one of ${RECORD_KINDS.join(', ')}`, index);
  }
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${where}: id must be a non-empty string`, index);
  const ifRevision = raw['if_revision'];
  if (ifRevision !== undefined && (typeof ifRevision !== 'number' || !Number.isSafeInteger(ifRevision) || ifRevision < 0)) {
    throw invalid(`${where}: if_revision must be a non-negative integer (0: only if absent)`, index);
  }
  if (op === 'delete') {
    if (value !== undefined) throw invalid(`${where}: a delete takes no value`, index);
    return { op, kind: kind as RecordKind, id, ifRevision };
  }
  if (!isRecord(value)) throw invalid(`${where}: a put needs value, the definition as PUT /admin/${kind}/:id takes it`, index);
  return { op, kind: kind as RecordKind, id, value, ifRevision };
}

/** The body of `POST /admin/batch`, checked: `{ operations: [...] }`, nothing else, at most {@link MAX_BATCH_OPERATIONS}. */
export function parseBatchRequest(body: unknown): AdminBatchOperation[] {
  if (!isRecord(body) || !Array.isArray(body['operations'])) {
    throw invalid('the body must be { "operations": [{ "op": "put" | "delete", "kind": "tds" | "ids", "id": "…", "value"?: {…}, "if_revision"?: N }] }');
  }
  const unknown = Object.keys(body).filter((key) => key !== 'operations');
  if (unknown.length > 0) throw invalid(`unknown key "${unknown[0]!.slice(0, 100)}"; the body takes only operations`);
  const operations = body['operations'] as unknown[];
  if (operations.length > MAX_BATCH_OPERATIONS) throw invalid(`at most ${MAX_BATCH_OPERATIONS} operations per batch, got ${operations.length}`);
  const seen = new Set<string>();
  return operations.map((raw, index) => {
    const operation = parseOperation(raw, index);
    // Two operations on one record would leave the outcome to their order: refuse rather than guess.
    const key = `${operation.kind}/${operation.id}`;
    if (seen.has(key)) throw invalid(`operations[${index}]: ${operation.kind} "${operation.id}" appears twice in the batch`, index);
    seen.add(key);
    return operation;
  });
}

/**
 * `POST /admin/batch`: puts and deletes of tools and instances, validated together and written at
 * one revision, or not at all (see {@link AdminService.applyBatch}). Answers `{ revision, written,
 * put: [{ kind, id, revision }], deleted: [{ kind, id }], applied }`; `written: false` when nothing
 * changed, `applied: false` when this replica did not apply the batch within the wait.
 */
export function batchRoute(service: AdminService): RequestHandler {
  return (req: Request, res, next) => {
    const operations = parseBatchRequest(req.body);
    service
      .applyBatch(operations, { principal: req.principal?.id })
      .then((result) =>
        sendSuccess(res, {
          revision: result.revision,
          written: result.written,
          put: result.records.map((record) => ({ kind: record.kind, id: record.id, revision: record.revision })),
          deleted: result.deleted,
          applied: result.applied,
        }),
      )
      .catch(next);
  };
}
