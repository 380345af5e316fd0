import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { BUSY_TIMEOUT_MS, isBusyError } from './sql-store-errors.js';

/** The SQL dialects the datasource speaks. */
export type SqlDialect = 'sqlite' | 'mysql';

/** Records by kind and id; deletes stay as tombstones until pruned. */
export const RECORDS_TABLE = 'dynmcp_records';
/** One row (`id = 1`): the revision counter and the oldest revision the feed can still replay. */
export const REVISION_TABLE = 'dynmcp_revision';
/** Knex's bookkeeping of applied migrations (and `<name>_lock` beside it). */
export const MIGRATIONS_TABLE = 'dynmcp_migrations';

interface SchemaMigration {
  name: string;
  up(db: Knex, dialect: SqlDialect): Promise<void>;
  // Knex refuses a migration without `down`; DynMCP never migrates down on its own.
  down(db: Knex): Promise<void>;
}

// Append only: a released migration never changes, the next schema change is a new entry.
const MIGRATIONS: readonly SchemaMigration[] = [
  {
    name: '0001_records_and_revision',
    async up(db, dialect) {
      await db.schema.createTable(REVISION_TABLE, (table) => {
        table.integer('id').primary();
        table.bigInteger('revision').notNullable();
        table.bigInteger('min_retained').notNullable();
      });
      await db(REVISION_TABLE).insert({ id: 1, revision: 0, min_retained: 0 });
      await db.schema.createTable(RECORDS_TABLE, (table) => {
        table.string('kind', 16).notNullable();
        table.string('id', 255).notNullable();
        // LONGTEXT on MySQL: MariaDB TEXT stops at 64 KiB; the size cap belongs to the API, not the
        // column (research/reliability.md §2.4).
        table.text('value', 'longtext').nullable();
        table.bigInteger('revision').notNullable();
        table.boolean('deleted').notNullable().defaultTo(false);
        table.bigInteger('updated_at').notNullable();
        table.primary(['kind', 'id']);
        table.index(['revision'], 'dynmcp_records_revision_idx');
        if (dialect === 'mysql') {
          // Binary collation: ids are case-sensitive, and MySQL's default collation would make
          // `Foo` and `foo` collide on the primary key and order differently from SQLite.
          table.charset('utf8mb4');
          table.collate('utf8mb4_bin');
        }
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists(RECORDS_TABLE);
      await db.schema.dropTableIfExists(REVISION_TABLE);
    },
  },
];

function migrationSource(dialect: SqlDialect): Knex.MigrationSource<SchemaMigration> {
  return {
    getMigrations: async () => [...MIGRATIONS],
    getMigrationName: (migration) => migration.name,
    getMigration: async (migration) => ({ up: (db: Knex) => migration.up(db, dialect), down: (db: Knex) => migration.down(db) }),
  };
}

// Two gateways starting on a fresh store race to create knex's own tables (no transaction covers
// `CREATE TABLE dynmcp_migrations`) and for the migration lock; the loser retries and then finds
// the schema in place.
function isTransientMigrationError(error: unknown): boolean {
  if (isBusyError(error)) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return error.name === 'MigrationLocked' || code === 'ER_TABLE_EXISTS_ERROR' || code === 'ER_DUP_ENTRY' || /already exists/i.test(error.message);
}

/**
 * Brings the schema to the latest migration. Idempotent: when nothing is pending it only reads,
 * because knex's `latest()` takes the migration lock (a write) even with nothing to do.
 */
export async function migrateToLatest(db: Knex, dialect: SqlDialect): Promise<void> {
  const config: Knex.MigratorConfig = { migrationSource: migrationSource(dialect), tableName: MIGRATIONS_TABLE };
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  let delayMs = 10;
  for (;;) {
    try {
      const [, pending] = (await db.migrate.list(config)) as [unknown[], unknown[]];
      if (pending.length > 0) await db.migrate.latest(config);
      return;
    } catch (error) {
      if (!isTransientMigrationError(error) || performance.now() + delayMs > deadline) throw error;
      await sleep(delayMs * (0.5 + Math.random()));
      delayMs = Math.min(delayMs * 2, 250);
    }
  }
}
