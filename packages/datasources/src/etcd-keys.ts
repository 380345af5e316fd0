import type { Logger, StoredRecord } from '@dynmcp/plugin';
import { parseStoredValue, type KeyRules } from './record-codec.js';

// How records map onto etcd keys: `<prefix>/<kind>/<id>`, the value is the record's JSON, and the
// record's revision is the key's mod_revision. The kind never contains "/"; the id may.

/**
 * A "/" in a kind would put the record inside another kind's range (`a/b` + `x` is kind `a`, id
 * `b/x`), so kinds are refused with one, on reads by id as well as on writes.
 */
export const ETCD_KEY_RULES: KeyRules = { slashFreeKind: true, checkOnGet: true };

/**
 * The segment under the prefix that holds history: longer than any kind may be
 * (`MAX_KIND_LENGTH`), so no record's key ever falls inside it.
 */
export const HISTORY_SEGMENT = '_definition_history';

/** The key layout under one prefix. */
export interface EtcdKeys {
  /** `<prefix>/`: everything the datasource owns. */
  readonly root: string;
  /** `<prefix>/_definition_history/`: the history entries, outside every record's range. */
  readonly historyRoot: string;
  /** `<prefix>/_definition_history/<kind>/<id>/`: one record's history entries (filter out longer ids). */
  historyPrefix(kind: string, id: string): string;
  /** The key of one record. */
  key(kind: string, id: string): string;
  /** `<prefix>/<kind>/`: the records of one kind. */
  kindPrefix(kind: string): string;
  /** Kind and id of a key, or `undefined` for a key outside the layout. */
  parse(key: string): { kind: string; id: string } | undefined;
}

/**
 * The key layout for `prefix` (e.g. `/dynmcp`; a trailing slash is ignored, an empty prefix means
 * keys start with `/`).
 */
export function createEtcdKeys(prefix: string): EtcdKeys {
  const root = `${prefix.replace(/\/+$/, '')}/`;
  const historyRoot = `${root}${HISTORY_SEGMENT}/`;
  return {
    root,
    historyRoot,
    historyPrefix: (kind, id) => `${historyRoot}${kind}/${id}/`,
    key: (kind, id) => `${root}${kind}/${id}`,
    kindPrefix: (kind) => `${root}${kind}/`,
    parse(key) {
      // History is under the root too (one watch and one snapshot range); it is never a record.
      if (!key.startsWith(root) || key.startsWith(historyRoot)) return undefined;
      const rest = key.slice(root.length);
      const slash = rest.indexOf('/');
      if (slash <= 0 || slash === rest.length - 1) return undefined;
      return { kind: rest.slice(0, slash), id: rest.slice(slash + 1) };
    },
  };
}

/** The end of the range of all keys starting with `prefix` (etcd's "prefix + 1"). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: every key from `prefix` on.
  return Buffer.from([0]);
}

/** What etcd3 hands back for one key (strings for 64-bit numbers). */
export interface RawKeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
}

/** A stored key as a record, or `undefined` when the key is outside the layout. */
export function decodeRecord(kv: RawKeyValue, keys: EtcdKeys, logger: Logger): StoredRecord | undefined {
  const parsed = keys.parse(kv.key.toString('utf8'));
  if (parsed === undefined) return undefined;
  const { kind, id } = parsed;
  const revision = Number(kv.mod_revision);
  return { kind, id, value: parseStoredValue(kv.value.toString('utf8'), { kind, id, revision }, logger), revision };
}
