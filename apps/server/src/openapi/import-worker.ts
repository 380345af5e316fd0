// Entry of the import worker (see plan-import.ts): maps one document and posts the plan, or the
// GatewayError's code and message; a foreign error becomes INVALID_OPENAPI, since only the
// document can have caused it.
import { parentPort, workerData } from 'node:worker_threads';
import { isGatewayError } from '@dynmcp/plugin';
import { buildPlan } from './build-plan.js';
import type { PlanRequest } from './build-plan.js';

try {
  parentPort?.postMessage({ ok: true, plan: await buildPlan(workerData as PlanRequest) });
} catch (error) {
  if (isGatewayError(error)) {
    parentPort?.postMessage({ ok: false, code: error.code, message: error.message });
  } else if (error instanceof RangeError) {
    parentPort?.postMessage({ ok: false, code: 'OPENAPI_TOO_COMPLEX', message: `the document nests too deeply to be read: ${error.message}` });
  } else {
    parentPort?.postMessage({ ok: false, code: 'INVALID_OPENAPI', message: `the document could not be read: ${(error as Error).message}` });
  }
}
