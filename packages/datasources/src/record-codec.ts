import { slicer } from '@dynmcp/common';
import {
  GatewayError,
  type BatchOperation,
  type Logger,
  type StoredRecord,
  type WriteAction,
  type WriteMetadata,
  type WriteOptions,
} from '@dynmcp/plugin';

// What every built-in store does the same way with a record on its way in and out: key limits,
// write preconditions, the JSON text stored, and reading that text back.

/** Longest kind: the width of the SQL store's `kind` column. */
export const MAX_KIND_LENGTH = 16;
/** Longest id: the SQL store's column width; the etcd store keeps to it so records stay portable. */
export const MAX_ID_LENGTH = 255;

/** What a store refuses in a key beyond the shared length limits, each for a reason of that store. */
export interface KeyRules {
  /** The kind may not contain "/". */
  slashFreeKind?: boolean;
  /** Neither kind nor id may end with a space. */
  noTrailingSpace?: boolean;
  /** `get()` checks the key too, not only writes. */
  checkOnGet?: boolean;
}

/** Rejects kinds and ids the store cannot hold with `INVALID_PAYLOAD`. */
export function checkKey(kind: string, id: string, rules: KeyRules = {}): void {
  if (kind.length === 0 || kind.length > MAX_KIND_LENGTH || (rules.slashFreeKind === true && kind.includes('/'))) {
    const slash = rules.slashFreeKind === true ? ' without "/"' : '';
    throw new GatewayError('INVALID_PAYLOAD', `record kind must be 1 to ${MAX_KIND_LENGTH} characters${slash}`);
  }
  if (id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new GatewayError('INVALID_PAYLOAD', `record id must be 1 to ${MAX_ID_LENGTH} characters`);
  }
  if (rules.noTrailingSpace === true && (kind.endsWith(' ') || id.endsWith(' '))) {
    throw new GatewayError('INVALID_PAYLOAD', 'record kind and id must not end with a space');
  }
}

/** The `ifRevision` of a write, checked: a non-negative integer, or `undefined` for none. */
export function checkWriteOptions(options: WriteOptions | undefined): number | undefined {
  const expected = options?.ifRevision;
  if (expected !== undefined && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new GatewayError('INVALID_PAYLOAD', 'ifRevision must be a non-negative integer');
  }
  return expected;
}

/** The JSON text stored for a value. */
export function serialise(value: unknown): string {
  try {
    // `undefined` (and functions) serialise to nothing; store them as JSON null.
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    throw new GatewayError('INVALID_PAYLOAD', 'record value is not serialisable as JSON', { cause: error });
  }
}

/**
 * A stored JSON text as a value. A record edited by hand into invalid JSON must not stop the feed
 * or evict the other records: it goes up as the raw text, where validation rejects it and keeps
 * the last good definition.
 */
export function parseStoredValue(text: string, record: Omit<StoredRecord, 'value'>, logger: Logger): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    logger.warn('stored record is not valid JSON', { kind: record.kind, id: record.id, revision: record.revision });
    return text;
  }
}

/**
 * One write as a store receives it: a put (`text` is the JSON) or a delete (`text` is `null`), with
 * what its history entry records.
 */
export interface RecordWrite {
  kind: string;
  id: string;
  text: string | null;
  ifRevision?: number;
  action: WriteAction;
  principal?: string;
  /** No history entry for this write (`WriteOptions.untracked`). */
  untracked?: boolean;
}

const WRITE_ACTIONS: readonly WriteAction[] = ['put', 'delete', 'import', 'rollback'];
/** Longest principal name a history entry keeps: the SQL store's column width. */
export const MAX_PRINCIPAL_LENGTH = 255;

/** The history fields of a write: the metadata's, checked, or the defaults of a put or delete. */
export function writeHistory(metadata: WriteMetadata | undefined, isDelete: boolean): Pick<RecordWrite, 'action' | 'principal'> {
  const action = metadata?.action ?? (isDelete ? 'delete' : 'put');
  if (!WRITE_ACTIONS.includes(action)) {
    throw new GatewayError('INVALID_PAYLOAD', `write action must be one of ${WRITE_ACTIONS.join(', ')}`);
  }
  const principal = metadata?.principal;
  if (principal === undefined || principal === '') return { action };
  if (typeof principal !== 'string') throw new GatewayError('INVALID_PAYLOAD', 'write principal must be a string');
  return { action, principal: principal.slice(0, MAX_PRINCIPAL_LENGTH) };
}

/** `{ untracked: true }` for a write that asked for no history entry, else nothing. */
const untracked = (options: WriteOptions | undefined): Pick<RecordWrite, 'untracked'> => (options?.untracked === true ? { untracked: true } : {});

/** A put, checked and serialised before the store is touched. */
export function putWrite(kind: string, id: string, value: unknown, options: WriteOptions | undefined, rules: KeyRules): RecordWrite {
  checkKey(kind, id, rules);
  const ifRevision = checkWriteOptions(options);
  return { kind, id, text: serialise(value), ifRevision, ...writeHistory(options?.metadata, false), ...untracked(options) };
}

/** A delete, checked before the store is touched. */
export function deleteWrite(kind: string, id: string, options: WriteOptions | undefined, rules: KeyRules): RecordWrite {
  checkKey(kind, id, rules);
  const ifRevision = checkWriteOptions(options);
  return { kind, id, text: null, ifRevision, ...writeHistory(options?.metadata, true), ...untracked(options) };
}

/**
 * The operations of a batch, each checked and serialised as its single write would be, before the
 * store is touched, in slices (a thousand imported tools are megabytes of JSON to encode). The
 * same kind and id twice is refused: which of the two should win is the caller's decision, and a
 * store could not give both one revision anyway.
 */
export async function batchWrites(operations: readonly BatchOperation[], rules: KeyRules, metadata?: WriteMetadata): Promise<RecordWrite[]> {
  if (!Array.isArray(operations)) throw new GatewayError('INVALID_PAYLOAD', 'a batch must be an array of operations');
  const seen = new Set<string>();
  const yieldNow = slicer();
  const writes: RecordWrite[] = [];
  for (const [index, operation] of operations.entries()) {
    await yieldNow();
    const { op, kind, id } = operation;
    if (op !== 'put' && op !== 'delete') {
      throw new GatewayError('INVALID_PAYLOAD', `batch operation ${index} has op ${JSON.stringify(op)}; expected "put" or "delete"`);
    }
    if (typeof kind !== 'string' || typeof id !== 'string') {
      throw new GatewayError('INVALID_PAYLOAD', `batch operation ${index} needs a string kind and id`);
    }
    const key = JSON.stringify([kind, id]);
    if (seen.has(key)) {
      throw new GatewayError('INVALID_PAYLOAD', `batch writes ${kind} '${id}' twice (operation ${index}); write each record once`, {
        data: { kind, id, index },
      });
    }
    seen.add(key);
    const options = { ifRevision: operation.ifRevision, metadata, untracked: operation.untracked };
    writes.push(op === 'put' ? putWrite(kind, id, operation.value, options, rules) : deleteWrite(kind, id, options, rules));
  }
  return writes;
}

/** The `PRECONDITION_FAILED` of a conditional write, with the record's current revision (0: absent). */
export function preconditionFailed(kind: string, id: string, current: number, expected: number): GatewayError {
  const state =
    current === 0 ? 'does not exist' : expected === 0 ? `already exists (revision ${current})` : `is at revision ${current}, not ${expected}`;
  return new GatewayError('PRECONDITION_FAILED', `${kind} '${id}' ${state}`, {
    data: { currentRevision: current, expectedRevision: expected },
  });
}
