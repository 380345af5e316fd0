import type { Etcd3, IRangeResponse, ITxnResponse } from 'etcd3';
import { GatewayError, type Logger, type StoredRecord } from '@dynmcp/plugin';
import { decodeRecord, prefixEnd, type EtcdKeys } from './etcd-keys.js';
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
 * Reads every record under `prefix` at one revision, page by page (tikv/pd #11033: every page of
 * one load from the same revision). Keys outside the layout are skipped.
 */
export async function readRange(context: EtcdCallContext, prefix: string): Promise<RangeSnapshot> {
  const { client, keys, logger, timeoutMs } = context;
  const end = prefixEnd(Buffer.from(prefix));
  let start = Buffer.from(prefix);
  let revision = 0;
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

// etcd refuses a transaction of more than `--max-txn-ops` operations (default 128) or a request over
// `--max-request-bytes` (default 1.5 MiB) with InvalidArgument; the message is etcd's own, fixed text
// (server/etcdserver/api/v3rpc/rpctypes/error.go) and carries no key or endpoint.
const TOO_LARGE = /too many operations in txn request|request is too large|larger than max/i;

/**
 * Writes every record of a batch in one etcd transaction, so all of them share its revision and a
 * watch sees them in one response: the compares are the `ifRevision` preconditions, the success
 * branch every put and delete. On a failed compare nothing is written; the failure branch reads the
 * conditioned keys, so the error names the first record whose revision differs. A delete of an
 * absent key writes nothing (etcd takes no revision for a transaction that changes nothing).
 */
export async function writeBatch(context: EtcdCallContext, writes: readonly RecordWrite[]): Promise<BatchOutcome> {
  const { client, keys, timeoutMs } = context;
  const keyOf = (write: RecordWrite) => Buffer.from(keys.key(write.kind, write.id));
  const conditioned = writes.filter((write) => write.ifRevision !== undefined);
  let result: ITxnResponse;
  try {
    result = await client.kv.txn(
      {
        compare: conditioned.map((write) => ({ key: keyOf(write), target: 'Mod', result: 'Equal', mod_revision: write.ifRevision })),
        success: writes.map((write) =>
          write.text === null
            ? { request_delete_range: { key: keyOf(write) } }
            : { request_put: { key: keyOf(write), value: Buffer.from(write.text) } },
        ),
        failure: conditioned.map((write) => ({ request_range: { key: keyOf(write) } })),
      },
      callOptions(timeoutMs),
    );
  } catch (error) {
    if (error instanceof Error && TOO_LARGE.test(error.message)) {
      throw new GatewayError(
        'PAYLOAD_TOO_LARGE',
        `etcd refused a batch of ${writes.length} writes as too large for one transaction (its --max-txn-ops, default 128, ` +
          'or --max-request-bytes, default 1.5 MiB); nothing was written. Write fewer records at once or raise those etcd limits',
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
    // Not reached: the failure branch reads within the transaction, at the revision the compares saw.
    throw new GatewayError('PRECONDITION_FAILED', 'a precondition of the batch failed; read the records again and retry');
  }
  const applied = writes.map(
    (write, index) => write.text !== null || Number(result.responses[index]?.response_delete_range?.deleted ?? 0) > 0,
  );
  return { revision: Number(result.header.revision), applied };
}
