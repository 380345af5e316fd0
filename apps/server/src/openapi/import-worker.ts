// Entry of the import worker (see plan-import.ts): loads the mapper and compiles the
// specification's schemas, then waits for one request, maps its document and posts the plan, or
// the GatewayError's code and message; a foreign error becomes INVALID_OPENAPI, since only the
// document can have caused it.
import { parentPort } from 'node:worker_threads';
import { isGatewayError } from '@dynmcp/plugin';
import { buildPlan } from './build-plan.js';
import type { PlanRequest } from './build-plan.js';
import { prepareSpecSchemas } from './spec-schema.js';

async function answer(request: PlanRequest): Promise<void> {
  try {
    parentPort?.postMessage({ ok: true, plan: await buildPlan(request) });
  } catch (error) {
    if (isGatewayError(error)) {
      parentPort?.postMessage({ ok: false, code: error.code, message: error.message });
    } else if (error instanceof RangeError) {
      parentPort?.postMessage({ ok: false, code: 'OPENAPI_TOO_COMPLEX', message: `the document nests too deeply to be read: ${error.message}` });
    } else {
      parentPort?.postMessage({ ok: false, code: 'INVALID_OPENAPI', message: `the document could not be read: ${(error as Error).message}` });
    }
  }
}

let asked = false;
parentPort?.once('message', (request: PlanRequest) => {
  asked = true;
  void answer(request);
});
// A worker started ahead of its request compiles the schemas while it waits; one started for a
// request already sent goes straight to it, and compiles only the schema its document needs.
setTimeout(() => {
  if (!asked) prepareSpecSchemas();
}, 0);
