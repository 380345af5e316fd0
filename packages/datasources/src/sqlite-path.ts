import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GatewayError } from '@dynmcp/plugin';

/** What every SQLite database file starts with (sqlite.org/fileformat.html, "The Database Header"). */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/** Longest wait for the folder to be made: Node's recursive mkdir never settles under some paths (procfs). */
const MKDIR_TIMEOUT_MS = 5_000;

/**
 * A mistake in the SQLite path that no retry can mend, so the start fails at once, naming the path,
 * instead of retrying forever with the gateway never ready. `data.permanent` says so to whoever
 * opens the store (see the DataSource contract).
 */
function wrongPath(filename: string, problem: string, cause?: unknown): GatewayError {
  return new GatewayError('STORE_UNAVAILABLE', `SQLite database path "${filename}": ${problem}; point it at a file in a folder the gateway may write`, {
    cause,
    data: { permanent: true },
  });
}

/**
 * Makes the database file's folder and checks the path can hold a database: not a folder, not a
 * file of something else, under a folder rather than a file. Problems that may pass (permissions a
 * later chmod gives, a disk that fills and empties) are left to the open, which the caller retries.
 */
export async function prepareSqlitePath(filename: string): Promise<void> {
  const folder = dirname(filename);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, MKDIR_TIMEOUT_MS, 'late')));
  try {
    const made = await Promise.race([mkdir(folder, { recursive: true }), late]);
    if (made === 'late') throw wrongPath(filename, `its folder could not be made within ${MKDIR_TIMEOUT_MS / 1000} s (is it under /proc or a similar file system?)`);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw wrongPath(filename, 'a part of its folder is a file, not a folder', error);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const found = await stat(filename).catch(() => undefined);
  if (found === undefined) return;
  if (found.isDirectory()) throw wrongPath(filename, 'it is a folder, not a file');
  if (!found.isFile() || found.size === 0) return;
  const head = Buffer.alloc(SQLITE_HEADER.length);
  const file = await open(filename, 'r');
  try {
    await file.read(head, 0, head.length, 0);
  } finally {
    await file.close();
  }
  if (!head.equals(SQLITE_HEADER)) throw wrongPath(filename, 'the file there is not an SQLite database');
}
