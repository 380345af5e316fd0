import type { Etcd3, IRangeResponse, ITxnResponse } from 'etcd3';
import { GatewayError, type Logger, type StoredRecord } from '@dynmcp/plugin';
import { decodeRecord, prefixEnd, type EtcdKeys } from './etcd-keys.js';
import { historyEntryKey, historyEntryText } from './etcd-history.js';
import { preconditionFailed, type RecordWrite } from './record-codec.js';
import type { BatchOutcome } from './store-data-source.js';

// The KV calls of the etcd datasource, one exported function per operation. Conditional writes are
// one etcd transaction comparing the key's mod_revision; a key that does not exist has
// mod_revision 0 in a compare, so `ifRevision: 0` means "absent".

/** What every call needs: the client, the key layout, and the deadline of one call. */
export interface EtcdCallContext {
  client: Etcd3;
  keys: EtcdKeys;
  logger: Logger;
  /** Deadline of one unary call, so a dead or frozen etcd fails the call instead of hanging it. */
  timeoutMs: number;
  /** Clock (epoch ms) of history entries, default `Date.now`. */
  now?: () => number;
}

/** Keys per range page: one page stays far below gRPC's message limit even with large definitions. */
export const PAGE_SIZE = 200;

const callOptions = (timeoutMs: number) => ({ deadline: Date.now() + timeoutMs });

/** A consistent read of many keys: every page at the revision of the first one. */
export interface RangeSnapshot {
  /** The store revision the read saw (header revision of the first page). */
  revision: number;
  records: StoredRecord[];
}

/**
 * Reads every record under `prefix` at one revision, page by page: every page of one load reads the
 * revision of the first, so a write landing between two pages cannot make a snapshot that never
 * existed. Keys outside the layout are skipped.
 */
export async function readRange(context: EtcdCallContext, prefix: string): Promise<RangeSnapshot> {
  const { keys } = context;
  if (!keys.historyRoot.startsWith(prefix)) return readSpan(context, Buffer.from(prefix), prefixEnd(Buffer.from(prefix)), 0);
  // The history lies inside the root's range but is no record: read around it, both parts at one
  // revision, so a snapshot costs the records only, however many versions the history keeps.
  const history = Buffer.from(keys.historyRoot);
  const before = await readSpan(context, Buffer.from(prefix), history, 0);
  const beyond = await readSpan(context, prefixEnd(history), prefixEnd(Buffer.from(prefix)), before.revision);
  return { revision: before.revision, records: [...before.records, ...beyond.records] };
}

/** The records in `[from, end)`, page by page at `atRevision` (0: the current one, kept for every page). */
async function readSpan(context: EtcdCallContext, from: Buffer, end: Buffer, atRevision: number): Promise<RangeSnapshot> {
  const { client, keys, logger, timeoutMs } = context;
  let start = from;
  let revision = atRevision;
  const records: StoredRecord[] = [];
  for (;;) {
    const page: IRangeResponse = await client.kv.range(
      { key: start, range_end: end, limit: PAGE_SIZE, ...(revision > 0 ? { revision } : {}) },
      callOptions(timeoutMs),
    );
    if (revision === 0) revision = Number(page.header.revision);
    for (const kv of page.kvs) {
      const record = decodeRecord(kv, keys, logger);
      if (record !== undefined) records.push(record);
    }
    const last = page.kvs.at(-1);
    if (!page.more || last === undefined) return { revision, records };
    // The next page starts right after the last key: the key plus a zero byte.
    start = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

/** One record, or `undefined`. */
export async function readOne(context: EtcdCallContext, kind: string, id: string): Promise<StoredRecord | undefined> {
  const { client, keys, logger, timeoutMs } = context;
  const page = await client.kv.range({ key: Buffer.from(keys.key(kind, id)) }, callOptions(timeoutMs));
  const kv = page.kvs[0];
  return kv === undefined ? undefined : decodeRecord(kv, keys, logger);
}

/** A cheap linearizable read that proves the store answers (and that the credentials work). */
export async function probe(context: EtcdCallContext): Promise<number> {
  const { client, keys, timeoutMs } = context;
  const root = Buffer.from(keys.root);
  const page = await client.kv.range({ key: root, range_end: prefixEnd(root), count_only: true }, callOptions(timeoutMs));
  return Number(page.header.revision);
}

/**
 * Writes one key and resolves with the revision of the write (the key's new mod_revision); a
 * delete of an absent key writes nothing and resolves `undefined`. A failed `ifRevision` throws
 * `PRECONDITION_FAILED` with the key's current revision, read in the same transaction.
 */
export async function writeRecord(context: EtcdCallContext, write: RecordWrite): Promise<number | undefined> {
  const { revision, applied } = await writeBatch(context, [write]);
  return applied[0] === true ? revision : undefined;
}

// Every record written costs two operations of a transaction: the record and its history entry
// (one for an untracked write).
// etcd refuses a transaction of more than `--max-txn-ops` operations (default 128) or a request over
// `--max-request-bytes` (default 1.5 MiB) with InvalidArgument; the message is etcd's own, fixed text
// (server/etcdserver/api/v3rpc/rpctypes/error.go) and carries no key or endpoint.
const TOO_LARGE = /too many operations in txn request|request is too large|larger than max/i;

/** Attempts of a batch whose unconditioned deletes raced another writer before it gives up. */
const RACE_ATTEMPTS = 5;

/**
 * Writes every record of a batch, with its history entries, in one etcd transaction, so all of
 * them share its revision and a watch sees them in one response: the compares are the
 * `ifRevision` preconditions, the success branch every put and delete and then every history
 * entry. On a failed precondition nothing is written; the failure branch reads the conditioned
 * keys, so the error names the first record whose revision differs. A delete of an absent key
 * writes nothing and gets no history entry: etcd cannot make one operation depend on another's
 * outcome, so the keys of unconditioned deletes are read first and compared unchanged in the
 * transaction (another writer in between makes it run again).
 */
export async function writeBatch(context: EtcdCallContext, writes: readonly RecordWrite[]): Promise<BatchOutcome> {
  for (let attempt = 1; ; attempt += 1) {
    const outcome = await tryWriteBatch(context, writes);
    if (outcome !== 'raced') return outcome;
    if (attempt >= RACE_ATTEMPTS) {
      throw new GatewayError('PRECONDITION_FAILED', 'the records of the batch kept changing while it was written; read them again and retry');
    }
  }
}

async function tryWriteBatch(context: EtcdCallContext, writes: readonly RecordWrite[]): Promise<BatchOutcome | 'raced'> {
  const { client, keys, timeoutMs } = context;
  const keyOf = (write: RecordWrite) => Buffer.from(keys.key(write.kind, write.id));
  const conditioned = writes.filter((write) => write.ifRevision !== undefined);
  const unconditioned = writes.filter((write) => write.text === null && write.ifRevision === undefined);
  const seen = await Promise.all(
    unconditioned.map(async (write) => {
      const page = await client.kv.range({ key: keyOf(write), keys_only: true }, callOptions(timeoutMs));
      return Number(page.kvs[0]?.mod_revision ?? 0);
    }),
  );
  const absent = new Set(unconditioned.filter((_write, index) => seen[index] === 0));
  // The writes that get a history entry: each one that changes its record (not a delete that finds
  // it absent), unless it is untracked.
  const recorded = writes.filter((write) => write.untracked !== true && (write.text !== null || (write.ifRevision !== 0 && !absent.has(write))));
  const at = (context.now ?? Date.now)();
  let result: ITxnResponse;
  try {
    result = await client.kv.txn(
      {
        compare: [
          ...conditioned.map((write) => ({ key: keyOf(write), target: 'Mod' as const, result: 'Equal' as const, mod_revision: write.ifRevision })),
          ...unconditioned.map((write, index) => ({ key: keyOf(write), target: 'Mod' as const, result: 'Equal' as const, mod_revision: seen[index] })),
        ],
        success: [
          ...writes.map((write) =>
            write.text === null
              ? { request_delete_range: { key: keyOf(write) } }
              : { request_put: { key: keyOf(write), value: Buffer.from(write.text) } },
          ),
          ...recorded.map((write) => ({
            request_put: { key: Buffer.from(historyEntryKey(keys, write, at)), value: Buffer.from(historyEntryText(write, at)) },
          })),
        ],
        failure: conditioned.map((write) => ({ request_range: { key: keyOf(write) } })),
      },
      callOptions(timeoutMs),
    );
  } catch (error) {
    if (error instanceof Error && TOO_LARGE.test(error.message)) {
      throw new GatewayError(
        'PAYLOAD_TOO_LARGE',
        `etcd refused a batch of ${writes.length} writes as too large for one transaction: each write is 2 operations (the ` +
          'record and its history entry), so its --max-txn-ops (default 128) allows 64 writes; or the batch passed ' +
          '--max-request-bytes (default 1.5 MiB). Nothing was written. Write fewer records at once or raise those etcd limits',
        { cause: error, data: { operations: writes.length } },
      );
    }
    throw error;
  }
  if (!result.succeeded) {
    for (const [index, write] of conditioned.entries()) {
      const kv = result.responses[index]?.response_range?.kvs[0];
      const current = kv === undefined ? 0 : Number(kv.mod_revision);
      if (current !== write.ifRevision) throw preconditionFailed(write.kind, write.id, current, write.ifRevision as number);
    }
    // Every precondition held: a delete's record changed since it was read.
    return 'raced';
  }
  const applied = writes.map(
    (write, index) => write.text !== null || Number(result.responses[index]?.response_delete_range?.deleted ?? 0) > 0,
  );
  return { revision: Number(result.header.revision), applied };
}
