import { randomBytes } from 'node:crypto';
import type { AuditEntry, HistoryEntry, WriteAction } from '@dynmcp/plugin';
import { prefixEnd, type EtcdKeys } from './etcd-keys.js';
import type { EtcdCallContext } from './etcd-records.js';
import { prunedRevisions, toAuditEntry, toHistoryEntry, type HistoryRetention, type RawHistoryEntry } from './history-codec.js';
import type { RecordWrite } from './record-codec.js';

// History on etcd: one key per write of a record, `<prefix>/_definition_history/<kind>/<id>/<stamp>`,
// put in the transaction of the change, so the entry's mod_revision IS the change's revision. The
// key cannot name the revision (etcd assigns it when the transaction commits), so its last segment
// is the write's time and a random suffix, unique and roughly in order; readers sort by
// mod_revision. The value: `{"at","action","principal"?,"value"?}`, no `value` for a delete.

const PAGE_SIZE = 200;
// Deletes of one pruning transaction, well below etcd's default --max-txn-ops of 128.
const DELETES_PER_TXN = 100;

const callOptions = (timeoutMs: number) => ({ deadline: Date.now() + timeoutMs });

/** The key of one history entry of `write`. */
export function historyEntryKey(keys: EtcdKeys, write: RecordWrite, at: number): string {
  const stamp = `${at.toString(36).padStart(10, '0')}-${randomBytes(6).toString('hex')}`;
  return `${keys.historyPrefix(write.kind, write.id)}${stamp}`;
}

/** The stored text of one history entry; the version's JSON text is embedded as it is. */
export function historyEntryText(write: RecordWrite, at: number): string {
  const who = write.principal === undefined ? '' : `,"principal":${JSON.stringify(write.principal)}`;
  const value = write.text === null ? ',"deleted":true' : `,"value":${write.text}`;
  return `{"at":${at},"action":${JSON.stringify(write.action)}${who}${value}}`;
}

interface RawKv {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
}

/** A stored entry, or `undefined` for a key or value outside the layout. */
function decode(kv: RawKv, keys: EtcdKeys, withValue: boolean): RawHistoryEntry | undefined {
  const key = kv.key.toString('utf8');
  if (!key.startsWith(keys.historyRoot)) return undefined;
  const rest = key.slice(keys.historyRoot.length);
  const slash = rest.indexOf('/');
  const last = rest.lastIndexOf('/');
  if (slash <= 0 || last <= slash + 1) return undefined;
  let parsed: { at?: unknown; action?: unknown; principal?: unknown; deleted?: unknown; value?: unknown };
  try {
    parsed = JSON.parse(kv.value.toString('utf8')) as typeof parsed;
  } catch {
    return undefined;
  }
  return {
    kind: rest.slice(0, slash),
    id: rest.slice(slash + 1, last),
    revision: Number(kv.mod_revision),
    at: Number(parsed.at),
    ...(typeof parsed.principal === 'string' ? { principal: parsed.principal } : {}),
    action: parsed.action as WriteAction,
    // Re-serialised only when asked: the audit never returns values.
    text: parsed.deleted === true ? null : withValue ? JSON.stringify(parsed.value ?? null) : '',
  };
}

/** Every key under `prefix`, page by page at the revision of the first page. */
async function readAll(context: EtcdCallContext, prefix: string, keysOnly = false): Promise<RawKv[]> {
  const { client, timeoutMs } = context;
  const end = prefixEnd(Buffer.from(prefix));
  let start = Buffer.from(prefix);
  let revision = 0;
  const all: RawKv[] = [];
  for (;;) {
    const page = await client.kv.range(
      { key: start, range_end: end, limit: PAGE_SIZE, keys_only: keysOnly, ...(revision > 0 ? { revision } : {}) },
      callOptions(timeoutMs),
    );
    if (revision === 0) revision = Number(page.header.revision);
    all.push(...page.kvs);
    const last = page.kvs.at(-1);
    if (!page.more || last === undefined) return all;
    start = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

/** One record's entries, newest first: its prefix's keys, without those of longer ids under it. */
export async function readHistory(context: EtcdCallContext, kind: string, id: string, limit: number): Promise<HistoryEntry[]> {
  const { keys, logger } = context;
  const entries = (await readAll(context, keys.historyPrefix(kind, id)))
    .map((kv) => decode(kv, keys, true))
    .filter((entry): entry is RawHistoryEntry => entry !== undefined && entry.kind === kind && entry.id === id);
  entries.sort((a, b) => b.revision - a.revision);
  return entries.slice(0, limit).map((entry) => toHistoryEntry(entry, logger));
}

/**
 * Every entry after `since`, ascending. etcd filters by mod_revision and sorts on the server
 * (`min_mod_revision`, sort by Mod), so one call returns the first `limit` changes.
 */
export async function readAudit(context: EtcdCallContext, since: number, limit: number): Promise<AuditEntry[]> {
  const { client, keys, timeoutMs } = context;
  const root = Buffer.from(keys.historyRoot);
  const page = await client.kv.range(
    { key: root, range_end: prefixEnd(root), min_mod_revision: since + 1, sort_target: 'Mod', sort_order: 'Ascend', limit },
    callOptions(timeoutMs),
  );
  const entries = page.kvs.map((kv) => decode(kv, keys, false)).filter((entry): entry is RawHistoryEntry => entry !== undefined);
  // The server's sort leaves the order within one revision open; make it the SQL stores' order.
  entries.sort((a, b) => a.revision - b.revision || a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
  return entries.map(toAuditEntry);
}

/** Removes what retention no longer keeps (see `prunedRevisions`); resolves with how many. */
export async function pruneHistory(context: EtcdCallContext, retention: HistoryRetention): Promise<number> {
  const { client, keys, timeoutMs } = context;
  const byRecord = new Map<string, Array<{ key: Buffer; revision: number; at: number; deleted: boolean }>>();
  for (const kv of await readAll(context, keys.historyRoot)) {
    const entry = decode(kv, keys, false);
    if (entry === undefined) continue;
    const record = JSON.stringify([entry.kind, entry.id]);
    const list = byRecord.get(record) ?? [];
    list.push({ key: kv.key, revision: entry.revision, at: entry.at, deleted: entry.text === null });
    byRecord.set(record, list);
  }
  const doomed: Buffer[] = [];
  for (const entries of byRecord.values()) {
    entries.sort((a, b) => b.revision - a.revision);
    const pruned = new Set(prunedRevisions(entries, retention));
    for (const entry of entries) if (pruned.has(entry.revision)) doomed.push(entry.key);
  }
  for (let start = 0; start < doomed.length; start += DELETES_PER_TXN) {
    const chunk = doomed.slice(start, start + DELETES_PER_TXN);
    await client.kv.txn({ success: chunk.map((key) => ({ request_delete_range: { key } })) }, callOptions(timeoutMs));
  }
  return doomed.length;
}
