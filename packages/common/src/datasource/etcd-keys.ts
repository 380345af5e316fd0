import { GatewayError, type Logger, type StoredRecord } from '@dynmcp/plugin';

// How records map onto etcd keys: `<prefix>/<kind>/<id>`, the value is the record's JSON, and the
// record's revision is the key's mod_revision. The kind never contains "/"; the id may.

const MAX_KIND_LENGTH = 16;
// etcd keys are bytes and can be long, but the SQL store caps ids at 255; keep records portable.
const MAX_ID_LENGTH = 255;

/** The key layout under one prefix. */
export interface EtcdKeys {
  /** `<prefix>/`: everything the datasource owns. */
  readonly root: string;
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
  return {
    root,
    key: (kind, id) => `${root}${kind}/${id}`,
    kindPrefix: (kind) => `${root}${kind}/`,
    parse(key) {
      if (!key.startsWith(root)) return undefined;
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

/** Rejects kinds and ids the layout cannot hold. */
export function checkKey(kind: string, id: string): void {
  if (kind.length === 0 || kind.length > MAX_KIND_LENGTH || kind.includes('/')) {
    throw new GatewayError('INVALID_PAYLOAD', `record kind must be 1 to ${MAX_KIND_LENGTH} characters without "/"`);
  }
  if (id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new GatewayError('INVALID_PAYLOAD', `record id must be 1 to ${MAX_ID_LENGTH} characters`);
  }
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

/** What etcd3 hands back for one key (strings for 64-bit numbers). */
export interface RawKeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
}

/**
 * A stored key as a record, or `undefined` when the key is outside the layout. A value edited by
 * hand into invalid JSON must not stop the feed or evict other records: it goes up as the raw text,
 * where validation rejects it and keeps the last good definition.
 */
export function decodeRecord(kv: RawKeyValue, keys: EtcdKeys, logger: Logger): StoredRecord | undefined {
  const parsed = keys.parse(kv.key.toString('utf8'));
  if (parsed === undefined) return undefined;
  const text = kv.value.toString('utf8');
  const revision = Number(kv.mod_revision);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {
    logger.warn('stored record is not valid JSON', { kind: parsed.kind, id: parsed.id, revision });
  }
  return { kind: parsed.kind, id: parsed.id, value, revision };
}
