import type { Etcd3, IRangeResponse } from 'etcd3';
import type { Logger, StoredRecord } from '@dynmcp/plugin';
import { decodeRecord, prefixEnd, type EtcdKeys } from './etcd-keys.js';
import { preconditionFailed, type RecordWrite } from './record-codec.js';

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
  const { client, keys, timeoutMs } = context;
  const { kind, id, text, ifRevision } = write;
  const key = Buffer.from(keys.key(kind, id));
  const value = text === null ? undefined : Buffer.from(text);
  if (ifRevision === undefined) {
    if (value !== undefined) return Number((await client.kv.put({ key, value }, callOptions(timeoutMs))).header.revision);
    const deleted = await client.kv.deleteRange({ key }, callOptions(timeoutMs));
    return Number(deleted.deleted) === 0 ? undefined : Number(deleted.header.revision);
  }
  const result = await client.kv.txn(
    {
      compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: ifRevision }],
      success: [value === undefined ? { request_delete_range: { key } } : { request_put: { key, value } }],
      failure: [{ request_range: { key } }],
    },
    callOptions(timeoutMs),
  );
  if (!result.succeeded) {
    const current = result.responses[0]?.response_range?.kvs[0];
    throw preconditionFailed(kind, id, current === undefined ? 0 : Number(current.mod_revision), ifRevision);
  }
  if (value === undefined && Number(result.responses[0]?.response_delete_range?.deleted ?? 0) === 0) return undefined;
  return Number(result.header.revision);
}
