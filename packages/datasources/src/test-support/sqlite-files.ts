// SQLite datasources on throwaway database files, for tests that open several on one file (as two
// gateway processes would); every one is closed and every file removed after the test file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { silentLogger, type DataSource } from '@dynmcp/plugin';
import { createSqlDataSource, type SqlDataSourceOptions } from '../index.js';

/** Registers the clean-up and returns `freshFile` (a new, empty database file) and `sqlite` (an opened datasource on a file, polling every 20 ms). */
export function sqliteFiles(prefix: string) {
  const dirs: string[] = [];
  const opened: DataSource[] = [];
  after(async () => {
    await Promise.all(opened.map((ds) => ds.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return {
    freshFile(): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return join(dir, 'store.sqlite');
    },
    async sqlite(filename: string, extra: Partial<SqlDataSourceOptions> = {}): Promise<DataSource> {
      const ds = createSqlDataSource({ client: 'sqlite', filename, logger: silentLogger, pollIntervalMs: 20, ...extra });
      opened.push(ds);
      await ds.open();
      return ds;
    },
  };
}
