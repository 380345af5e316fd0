// Writes definitions straight into a gateway's SQLite file before the gateway starts, through
// the public APIs of @dynmcp/common (the same validation the admin API applies) and
// @dynmcp/datasources (the SQL datasource's put). The admin API re-reads the whole store on every write, so filling 10k tools
// through it would measure the admin API instead of the figure we want (start-up, memory).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const quiet = { error() {}, warn() {}, info() {}, debug() {}, child: () => quiet };

/** Fills `file` with `tools` ([id, definition]) and `instances` ([id, definition]). */
export async function prefillSqlite(root, file, { tools, instances }) {
  const require = createRequire(join(root, 'apps/server/package.json'));
  const common = await import(pathToFileURL(require.resolve('@dynmcp/common')).href);
  const datasources = await import(pathToFileURL(require.resolve('@dynmcp/datasources')).href);
  const compiler = common.createSchemaCompiler();
  const datasource = datasources.createSqlDataSource({ client: 'sqlite', filename: file, logger: quiet });
  await datasource.open();
  try {
    for (const [id, body] of tools) {
      const compiled = common.compileToolDefinition(body, compiler, id);
      compiled.release?.();
      await datasource.put('tds', id, compiled.definition);
    }
    for (const [id, body] of instances) {
      await datasource.put('ids', id, common.parseInstanceDefinition(body, id));
    }
  } finally {
    await datasource.close();
  }
}
