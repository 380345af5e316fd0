// Entry of the SQLite batch worker (see sqlite-batch-writer.ts): opens its own connection to the
// database file, then runs each batch it is sent through the same writeBatch as the main thread
// would, and posts the outcome, or the error's code and message for the main thread to rebuild.
import { parentPort, workerData } from 'node:worker_threads';
import type { Knex } from 'knex';
import { isGatewayError, silentLogger } from '@dynmcp/plugin';
import type { RecordWrite } from './record-codec.js';
import { sqliteKnexConfig } from './sql-knex-config.js';
import { writeBatch } from './sql-records.js';
import type { BatchReply, BatchRequest } from './sqlite-batch-writer.js';

const { filename } = workerData as { filename: string };
let knex: Promise<Knex> | undefined;

function connection(): Promise<Knex> {
  knex ??= import('knex').then(({ default: createKnex }) => createKnex(sqliteKnexConfig(filename, { min: 1, max: 1 }, silentLogger)));
  return knex;
}

// Loaded while the first batch's parts are still arriving; a failure is that batch's answer.
connection().catch(() => {});

function failure(id: number, error: unknown): BatchReply {
  if (isGatewayError(error)) return { id, ok: false, gateway: { code: error.code, message: error.message, data: error.data } };
  const { code, name, message } = (error ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  return {
    id,
    ok: false,
    store: { code: typeof code === 'string' ? code : undefined, name: typeof name === 'string' ? name : 'Error', message: String(message ?? error) },
  };
}

async function run(id: number, writes: readonly RecordWrite[], now: number): Promise<BatchReply> {
  try {
    return { id, ok: true, outcome: await writeBatch(await connection(), 'sqlite', writes, now) };
  } catch (error) {
    return failure(id, error);
  }
}

/** The parts received so far of each batch whose last part has not arrived. */
const parts = new Map<number, RecordWrite[]>();

parentPort?.on('message', (message: BatchRequest | 'close') => {
  if (message === 'close') {
    void (knex ?? Promise.resolve(undefined))
      .then((open) => open?.destroy())
      .catch(() => {})
      .finally(() => parentPort?.close());
    return;
  }
  const { id, writes, now, last } = message;
  const received = parts.get(id) ?? [];
  received.push(...writes);
  if (!last) {
    parts.set(id, received);
    return;
  }
  parts.delete(id);
  void run(id, received, now).then((reply) => parentPort?.postMessage(reply));
});
