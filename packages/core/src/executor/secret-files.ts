import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ReferenceValue } from './env-template.js';

/** Where `${secret:NAME}` values come from when nothing else is configured: the Docker and Kubernetes convention. */
export const DEFAULT_SECRETS_DIR = '/run/secrets';
/** A secret file is looked at again at most this often, so a hot tool costs no file-system call per request. */
export const SECRET_RECHECK_MS = 1_000;
/** Larger files are refused: a header value of that size is a mistake, and reading it would cost. */
export const MAX_SECRET_BYTES = 64 * 1024;
// Entries kept; past it the cache starts over (only definitions choose names, so this is never reached in practice).
const MAX_ENTRIES = 1_024;

/** Reads `${secret:NAME}` values from files of one directory. */
export interface SecretFiles {
  /** The value of file `name` (a name already checked to have no `/` and no leading `.`). */
  read(name: string): ReferenceValue;
}

interface Entry {
  value: ReferenceValue;
  /** Identity of the file version read: inode, size and times. Empty when the file was not readable. */
  stamp: string;
  checkedAt: number;
}

/**
 * Creates the reader of a secrets directory. A value is the file's content without trailing CR/LF
 * (files written with `echo` end in a newline). Each name is checked at most once per
 * {@link SECRET_RECHECK_MS} with one `stat`, and the file read again only when its inode, size or
 * times changed: a rotated secret (rewritten, or replaced by Kubernetes' atomic `..data` swap) is
 * used within about a second. `now` is the clock, for tests.
 */
export function createSecretFiles(dir: string, now: () => number = Date.now): SecretFiles {
  const entries = new Map<string, Entry>();

  function unavailable(name: string, why: string): ReferenceValue {
    return { ok: false, problem: `secret ${name} is not available: ${why} (secrets directory: executor.secretsDir, DYNMCP_SECRETS_DIR)` };
  }

  function load(name: string, previous: Entry | undefined): Entry {
    const path = join(dir, name);
    let stats;
    try {
      stats = statSync(path);
    } catch {
      return { value: unavailable(name, `no file named ${name}`), stamp: '', checkedAt: 0 };
    }
    // Anything but a regular file (a FIFO would block the read) is refused.
    if (!stats.isFile()) return { value: unavailable(name, `${name} is not a regular file`), stamp: '', checkedAt: 0 };
    if (stats.size > MAX_SECRET_BYTES) {
      return { value: unavailable(name, `file ${name} is larger than ${MAX_SECRET_BYTES} bytes`), stamp: '', checkedAt: 0 };
    }
    const stamp = `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
    if (previous !== undefined && previous.stamp === stamp) return previous;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return { value: unavailable(name, `file ${name} cannot be read`), stamp: '', checkedAt: 0 };
    }
    const value = text.replace(/[\r\n]+$/, '');
    if (value === '') return { value: unavailable(name, `file ${name} is empty`), stamp, checkedAt: 0 };
    return { value: { ok: true, value }, stamp, checkedAt: 0 };
  }

  return {
    read(name) {
      const at = now();
      const cached = entries.get(name);
      if (cached !== undefined && at - cached.checkedAt < SECRET_RECHECK_MS) return cached.value;
      const entry = load(name, cached);
      entry.checkedAt = at;
      if (entry !== cached) {
        if (entries.size >= MAX_ENTRIES) entries.clear();
        entries.set(name, entry);
      }
      return entry.value;
    },
  };
}
