import { Worker } from 'node:worker_threads';
import { parseEnvTemplate } from '@dynmcp/core';
import { GatewayError } from '@dynmcp/plugin';
import type { ErrorCode } from '@dynmcp/plugin';
import type { PlanRequest } from './build-plan.js';
import { DEFAULT_IMPORT_LIMITS } from './import-options.js';
import type { ImportFilters, ImportInput, ImportLimits, ImportPlan } from './import-options.js';
import { resolveBase } from './map-operation.js';

// A tool id is the prefix and a name of at most 64 characters; ids stop at 128.
const PREFIX = /^[A-Za-z0-9_.:-]{0,64}$/;
const INSTANCE_ID = /^\.*[A-Za-z0-9_:-][A-Za-z0-9_.:-]*$/;

const invalid = (message: string) => new GatewayError('INVALID_PAYLOAD', message);

function checkFilters(filters: ImportFilters | undefined, where: string): void {
  if (filters === undefined) return;
  if (typeof filters !== 'object' || filters === null) throw invalid(`${where} must be an object with tags, operation_ids and/or paths`);
  for (const key of Object.keys(filters)) {
    const list: unknown = (filters as Record<string, unknown>)[key];
    if (!['tags', 'operation_ids', 'paths'].includes(key)) throw invalid(`${where}.${key} is unknown; known: tags, operation_ids, paths`);
    if (!Array.isArray(list) || list.some((item) => typeof item !== 'string' || item.length > 512)) {
      throw invalid(`${where}.${key} must be a list of strings of at most 512 characters`);
    }
  }
}

/** Checks what does not depend on the document, and settles the id prefix. */
function checkInput(input: ImportInput, limits: ImportLimits): PlanRequest {
  if (typeof input.instanceId !== 'string' || input.instanceId.length > 128 || !INSTANCE_ID.test(input.instanceId)) {
    throw invalid('instance id must be letters, digits and _ . : -, at most 128, not only dots');
  }
  const toolIdPrefix = input.toolIdPrefix ?? `${input.instanceId}.`;
  if (typeof toolIdPrefix !== 'string' || !PREFIX.test(toolIdPrefix)) {
    throw invalid('tool_id_prefix must be at most 64 letters, digits and _ . : - (tool ids are the prefix and a name of up to 64)');
  }
  if (input.baseUrl !== undefined) {
    const base = typeof input.baseUrl === 'string' ? resolveBase(input.baseUrl, 'base_url') : { error: 'base_url must be a string' };
    if ('error' in base) throw invalid(base.error);
  }
  for (const [name, template] of Object.entries(input.auth ?? {})) {
    if (typeof template !== 'string' || /[\r\n\0]/.test(template)) throw invalid(`auth.${name} must be a string without CR, LF or NUL`);
    parseEnvTemplate(template, `auth.${name}`);
  }
  checkFilters(input.include, 'include');
  checkFilters(input.exclude, 'exclude');
  if (typeof input.document === 'string' && Buffer.byteLength(input.document) > limits.maxBytes) {
    throw new GatewayError('OPENAPI_TOO_LARGE', `the document is larger than ${limits.maxBytes} bytes`);
  }
  return { ...input, toolIdPrefix, maxBytes: limits.maxBytes };
}

type WorkerAnswer = { ok: true; plan: ImportPlan } | { ok: false; code: ErrorCode; message: string };

// The worker is TypeScript when this module runs from source (tests, through tsx), JavaScript when
// built. Node 20 does not pass loader hooks on to workers, so a source run registers tsx in the
// worker before loading it.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './import-worker.ts' : './import-worker.js', import.meta.url);

/** A started import worker: it loads its modules, then waits for the one request it will answer. */
interface PlanWorker {
  worker: Worker;
  /** Set once the worker stopped (or failed) before it was given a request: it cannot take one. */
  dead: boolean;
}

function startWorker(limits: ImportLimits): PlanWorker {
  const options = {
    resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb, maxYoungGenerationSizeMb: Math.min(32, limits.maxHeapMb), stackSizeMb: 4 },
  };
  let worker: Worker;
  if (!FROM_SOURCE) {
    worker = new Worker(WORKER_URL, options);
  } else {
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
    worker = new Worker(boot, { ...options, eval: true });
  }
  const started: PlanWorker = { worker, dead: false };
  const died = () => {
    started.dead = true;
  };
  worker.once('error', died).once('exit', died);
  return started;
}

async function runPlan(started: PlanWorker, request: PlanRequest, limits: ImportLimits): Promise<ImportPlan> {
  const { worker } = started;
  const tooComplex = (why: string) =>
    new GatewayError('OPENAPI_TOO_COMPLEX', `the document could not be read within the import limits (${why}); split it or remove references that multiply`);
  try {
    return await new Promise<ImportPlan>((resolve, reject) => {
      const timer = setTimeout(() => reject(tooComplex(`over ${limits.timeoutMs} ms`)), limits.timeoutMs);
      const settle = () => clearTimeout(timer);
      worker.once('message', (answer: WorkerAnswer) => {
        settle();
        if (answer.ok) resolve(answer.plan);
        else reject(new GatewayError(answer.code, answer.message));
      });
      worker.once('error', (error: Error & { code?: string }) => {
        settle();
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') reject(tooComplex(`over ${limits.maxHeapMb} MB of memory`));
        else reject(new GatewayError('INTERNAL_ERROR', 'the OpenAPI import worker failed', { cause: error }));
      });
      worker.once('exit', () => {
        settle();
        reject(new GatewayError('INTERNAL_ERROR', 'the OpenAPI import worker stopped without an answer'));
      });
      worker.ref();
      worker.postMessage(request);
    });
  } finally {
    await worker.terminate();
  }
}

/**
 * Maps OpenAPI documents to tool definitions (see {@link planImport}), each in a worker of its own,
 * and keeps one worker started ahead of the next document: starting a worker and loading its
 * modules (the OpenAPI parser, the Swagger converter, the specification's JSON Schemas, compiled)
 * costs a few hundred milliseconds of CPU, which an import would otherwise wait for. A worker
 * answers one document and ends, so nothing of one document outlives its import.
 */
export interface ImportPlanner {
  plan(input: ImportInput): Promise<ImportPlan>;
  /**
   * Starts the first worker ahead of an import (later ones start as each import ends). Called
   * once the gateway serves, so that its start-up does not share a core with the worker's.
   */
  warmUp(): void;
  /** A worker is started and waiting for the next document. */
  readonly waiting: boolean;
  /** Stops the waiting worker; a plan under way finishes. */
  close(): Promise<void>;
}

/** Options of {@link createImportPlanner}. */
export interface ImportPlannerOptions {
  /**
   * Keep a worker started ahead of the next import (default: when running built code; from
   * source, through tsx, a waiting worker would compile the mapper's TypeScript in every test
   * gateway, most of which never import).
   */
  warm?: boolean;
}

/** Creates an {@link ImportPlanner} with the limits every one of its imports runs under. */
export function createImportPlanner(limits: ImportLimits = DEFAULT_IMPORT_LIMITS, options: ImportPlannerOptions = {}): ImportPlanner {
  const warm = options.warm ?? !FROM_SOURCE;
  let spare: PlanWorker | undefined;
  let closed = false;

  /** A waiting worker that does not hold the process open; its modules load in the background. */
  function startSpare(): void {
    if (!warm || closed || (spare !== undefined && !spare.dead)) return;
    spare = startWorker(limits);
    spare.worker.unref();
  }

  function take(): PlanWorker {
    const ready = spare !== undefined && !spare.dead ? spare : startWorker(limits);
    spare = undefined;
    return ready;
  }

  return {
    warmUp: startSpare,
    async plan(input) {
      const request = checkInput(input, limits);
      try {
        return await runPlan(take(), request, limits);
      } finally {
        // After the answer, not alongside the work: the next worker's start would take CPU from this import.
        startSpare();
      }
    },
    get waiting() {
      return spare !== undefined && !spare.dead;
    },
    async close() {
      closed = true;
      const waiting = spare;
      spare = undefined;
      await waiting?.worker.terminate();
    },
  };
}

/**
 * Maps an OpenAPI 3.0/3.1 or Swagger 2.0 document to tool definitions, one per operation, without
 * writing anything. The document is read, resolved and mapped in a worker thread with a time
 * limit and a heap limit, so a hostile document (a `$ref` or alias bomb, extreme nesting) costs at
 * most `limits.timeoutMs` of one core and never blocks the event loop; the worker is terminated
 * when over. Nothing is fetched: references outside the document are refused. One document, one
 * worker started for it; {@link createImportPlanner} keeps one started ahead.
 * @throws GatewayError `INVALID_PAYLOAD` (options), `INVALID_OPENAPI` (the document, with the JSON
 * Pointer of the problem), `OPENAPI_TOO_LARGE`, `OPENAPI_TOO_COMPLEX` (time or memory limit).
 */
export async function planImport(input: ImportInput, limits: ImportLimits = DEFAULT_IMPORT_LIMITS): Promise<ImportPlan> {
  const request = checkInput(input, limits);
  return runPlan(startWorker(limits), request, limits);
}
