import { slicer } from '@dynmcp/common';
import { Worker } from 'node:worker_threads';
import { GatewayError, type ErrorCode } from '@dynmcp/plugin';
import type { RecordWrite } from './record-codec.js';
import type { BatchOutcome } from './store-data-source.js';
import { codedError } from './store-errors.js';

/**
 * Batches whose records hold this much JSON or more are written by the worker by default; smaller
 * ones on the main thread, where their statements and commit take a few milliseconds.
 */
export const WORKER_BATCH_BYTES = 256 * 1024;

/** How long `close()` lets the worker close its connection before it is terminated. */
const CLOSE_GRACE_MS = 2_000;

/** JSON text of the records sent to the worker in one message. */
const MESSAGE_BYTES = 64 * 1024;

/** A part of a batch sent to the worker; the worker writes the batch once it has the `last` part. */
export interface BatchRequest {
  id: number;
  writes: readonly RecordWrite[];
  now: number;
  last: boolean;
}

/** The worker's answer: the outcome, or the error to rebuild (a `GatewayError`, or a store error by its code). */
export type BatchReply =
  | { id: number; ok: true; outcome: BatchOutcome }
  | { id: number; ok: false; gateway: { code: ErrorCode; message: string; data?: Record<string, unknown> } }
  | { id: number; ok: false; store: { code: string | undefined; name: string; message: string } };

/** Writes large SQLite batches in a worker thread; see {@link createSqliteBatchWriter}. */
export interface SqliteBatchWriter {
  /** True when `writes` are large enough to be worth the worker. */
  wants(writes: readonly RecordWrite[]): boolean;
  /** `writeBatch` of sql-records.ts, run by the worker on its own connection; rejects as it would. */
  write(writes: readonly RecordWrite[], now: number): Promise<BatchOutcome>;
  /** Waits for the batches under way, closes the worker's connection and ends the worker. */
  close(): Promise<void>;
}

// The worker is TypeScript when this module runs from source (tests, through tsx), JavaScript when
// built. Node 20 does not pass loader hooks on to workers, so a source run registers tsx in the
// worker before loading it.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './sqlite-batch-worker.ts' : './sqlite-batch-worker.js', import.meta.url);

function startWorker(filename: string): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData: { filename } });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(boot, { eval: true, workerData: { filename } });
}

function rebuild(reply: Exclude<BatchReply, { ok: true }>): Error {
  if ('gateway' in reply) return new GatewayError(reply.gateway.code, reply.gateway.message, { data: reply.gateway.data });
  // By its code, as the main thread's driver would have thrown it: lock conflicts are retried,
  // and the reason is described, from the code alone.
  const error = reply.store.code === undefined ? new Error(reply.store.message) : codedError(reply.store.code, reply.store.message);
  error.name = reply.store.name;
  return error;
}

/**
 * Runs the writes of large SQLite batches in a worker thread with its own better-sqlite3
 * connection to the same file. better-sqlite3 is synchronous: a batch of a thousand imported tools
 * writes megabytes twice (the records and their history entries), and its COMMIT (with the WAL
 * checkpoint that follows a large one) holds the calling thread for tens of milliseconds, which on
 * the main thread would stall every request. The worker's connection is one more SQLite connection
 * to the file, exactly like another gateway process's: the transaction still takes the revision
 * counter's write lock first, so writers serialise and commit order stays revision order, a
 * conflict with the main thread's connection is `SQLITE_BUSY` retried by the caller, and the feed
 * sees the batch whole at its one revision. The worker starts with the first large batch, holds
 * the process open only while a batch is under way, and is restarted if it dies.
 */
export function createSqliteBatchWriter(filename: string, minBytes = WORKER_BATCH_BYTES): SqliteBatchWriter {
  let worker: Worker | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve(outcome: BatchOutcome): void; reject(error: Error): void }>();
  /** One promise per batch sent and not yet answered, settled (never rejected) with its answer. */
  const underWay = new Set<Promise<void>>();

  function failAll(error: Error): void {
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  }

  function started(): Worker {
    if (worker !== undefined) return worker;
    const created = startWorker(filename);
    created.unref();
    created.on('message', (reply: BatchReply) => {
      const waiting = pending.get(reply.id);
      if (waiting === undefined) return;
      pending.delete(reply.id);
      if (pending.size === 0) created.unref();
      if (reply.ok) waiting.resolve(reply.outcome);
      else waiting.reject(rebuild(reply));
    });
    const gone = (error?: Error) => {
      if (worker === created) worker = undefined;
      // The transaction of a batch under way rolled back with the worker's connection, unless its
      // COMMIT had completed: as with a connection lost during COMMIT, the caller cannot know.
      failAll(codedError('DYNMCP_WORKER_GONE', 'the SQLite batch worker stopped', error));
    };
    created.once('error', gone).once('exit', () => gone());
    worker = created;
    return created;
  }

  return {
    wants(writes) {
      let bytes = 0;
      for (const { text } of writes) {
        bytes += text?.length ?? 0;
        if (bytes >= minBytes) return true;
      }
      return bytes >= minBytes;
    },

    async write(writes, now) {
      const running = started();
      const id = nextId++;
      const answer = new Promise<BatchOutcome>((resolve, reject) => pending.set(id, { resolve, reject }));
      // Rejected while the parts are still being sent when the worker dies: handled by the return below.
      const settled = answer.then(
        () => {},
        () => {},
      );
      underWay.add(settled);
      void settled.then(() => underWay.delete(settled));
      running.ref();
      // In parts, between turns of the event loop: copying megabytes of records into one message
      // would itself hold the loop for several milliseconds.
      const yieldNow = slicer();
      let start = 0;
      do {
        let end = start;
        for (let bytes = 0; end < writes.length && bytes < MESSAGE_BYTES; end += 1) bytes += writes[end]!.text?.length ?? 0;
        running.postMessage({ id, writes: writes.slice(start, end), now, last: end === writes.length } satisfies BatchRequest);
        start = end;
        await yieldNow();
      } while (start < writes.length);
      return answer;
    },

    async close() {
      const running = worker;
      if (running === undefined) return;
      await Promise.all(underWay);
      worker = undefined;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.postMessage('close');
      const grace = setTimeout(() => void running.terminate(), CLOSE_GRACE_MS);
      await exited;
      clearTimeout(grace);
    },
  };
}
