import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { BUSY_TIMEOUT_MS, isBusyError, storeError } from './sql-store-errors.js';
import { createReplicasTable, REPLICAS_TABLE } from './sql-replicas.js';

/** The SQL dialects the datasource speaks. */
export type SqlDialect = 'sqlite' | 'mysql';

/** Records by kind and id; deletes stay as tombstones until pruned. */
export const RECORDS_TABLE = 'dynmcp_records';
/** One row (`id = 1`): the revision counter and the oldest revision the feed can still replay. */
export const REVISION_TABLE = 'dynmcp_revision';
/**
 * One row per write of a record: its revision, the version written (`value`, `NULL` with
 * `deleted` for a delete), who wrote it and why. Written in the write's transaction; never read by
 * the feed.
 */
export const HISTORY_TABLE = 'dynmcp_history';
/** Knex's bookkeeping of applied migrations (and `<name>_lock` beside it). */
export const MIGRATIONS_TABLE = 'dynmcp_migrations';

interface SchemaMigration {
  name: string;
  up(db: Knex, dialect: SqlDialect): Promise<void>;
  // Knex refuses a migration without `down`; DynMCP never migrates down on its own.
  down(db: Knex): Promise<void>;
}

// Append only: a released migration never changes what it creates, the next schema change is a
// new entry. Each step tolerates finding its work already done: MySQL commits every DDL statement
// on its own, so a start that died halfway through a migration leaves part of it behind.
const MIGRATIONS: readonly SchemaMigration[] = [
  {
    name: '0001_records_and_revision',
    async up(db, dialect) {
      if (!(await db.schema.hasTable(REVISION_TABLE))) {
        await db.schema.createTable(REVISION_TABLE, (table) => {
          table.integer('id').primary();
          table.bigInteger('revision').notNullable();
          table.bigInteger('min_retained').notNullable();
          // InnoDB whatever the server's default engine: row locks and transactions are the design.
          if (dialect === 'mysql') table.engine('InnoDB');
        });
      }
      await db(REVISION_TABLE).insert({ id: 1, revision: 0, min_retained: 0 }).onConflict('id').ignore();
      if (await db.schema.hasTable(RECORDS_TABLE)) return;
      await db.schema.createTable(RECORDS_TABLE, (table) => {
        table.string('kind', 16).notNullable();
        table.string('id', 255).notNullable();
        // LONGTEXT on MySQL: MariaDB TEXT stops at 64 KiB; the size cap belongs to the API, not the
        // column.
        table.text('value', 'longtext').nullable();
        table.bigInteger('revision').notNullable();
        table.boolean('deleted').notNullable().defaultTo(false);
        table.bigInteger('updated_at').notNullable();
        table.primary(['kind', 'id']);
        table.index(['revision'], 'dynmcp_records_revision_idx');
        if (dialect === 'mysql') {
          table.engine('InnoDB');
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
  {
    name: '0002_history',
    async up(db, dialect) {
      if (await db.schema.hasTable(HISTORY_TABLE)) return;
      await db.schema.createTable(HISTORY_TABLE, (table) => {
        table.string('kind', 16).notNullable();
        table.string('id', 255).notNullable();
        table.bigInteger('revision').notNullable();
        table.text('value', 'longtext').nullable();
        table.boolean('deleted').notNullable().defaultTo(false);
        table.string('principal', 255).nullable();
        table.string('action', 16).notNullable();
        table.bigInteger('at').notNullable();
        table.primary(['kind', 'id', 'revision']);
        // The audit reads by revision across records.
        table.index(['revision'], 'dynmcp_history_revision_idx');
        if (dialect === 'mysql') {
          table.engine('InnoDB');
          // As dynmcp_records: case-sensitive ids that compare as in SQLite.
          table.charset('utf8mb4');
          table.collate('utf8mb4_bin');
        }
      });
    },
    async down(db) {
      await db.schema.dropTableIfExists(HISTORY_TABLE);
    },
  },
  {
    name: '0003_replicas',
    up: createReplicasTable,
    async down(db) {
      await db.schema.dropTableIfExists(REPLICAS_TABLE);
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

// Two gateways starting on a fresh SQLite file race to create knex's own tables (no transaction
// covers `CREATE TABLE dynmcp_migrations`) and for the migration lock; the loser retries and then
// finds the schema in place.
function isTransientMigrationError(error: unknown): boolean {
  if (isBusyError(error)) return true;
  if (!(error instanceof Error)) return false;
  return error.name === 'MigrationLocked' || /already exists/i.test(error.message);
}

/** How long a MySQL start waits for another replica's migration before it gives up (and retries later). */
const MYSQL_MIGRATION_WAIT_MS = 30_000;
// One name per database, server-wide; MySQL caps lock names at 64 characters.
const MYSQL_LOCK_NAME = "LEFT(CONCAT('dynmcp.migrate.', DATABASE()), 64)";

/**
 * Runs `work` while holding MySQL's named lock for this database's schema. Knex's own migration lock
 * does not hold up on MySQL: two replicas that find its lock table empty both insert a row, and
 * from then on no one can take it (it wants exactly one row); a replica that dies mid-migration
 * leaves it taken for good, since DDL commits the lock update at once. `GET_LOCK` belongs to one
 * connection and ends with it, so a dead replica never blocks the others. The lock's connection is
 * pinned for the duration; the migration itself runs on other pooled connections.
 */
async function withMysqlSchemaLock(db: Knex, work: () => Promise<void>): Promise<void> {
  // knex's Client is untyped; acquireConnection/releaseConnection are its pool's entry points.
  const client = db.client as { acquireConnection(): Promise<unknown>; releaseConnection(conn: unknown): Promise<void> };
  const connection = await client.acquireConnection();
  try {
    const deadline = performance.now() + MYSQL_MIGRATION_WAIT_MS;
    for (;;) {
      // Timeout 0 and the waiting done here: a server-side wait could outlast the statement limit.
      const [rows] = (await db.raw(`SELECT GET_LOCK(${MYSQL_LOCK_NAME}, 0) AS got`).connection(connection)) as [Array<{ got: unknown }>];
      if (Number(rows[0]?.got) === 1) break;
      if (performance.now() > deadline) throw storeError('DYNMCP_MIGRATION_LOCKED');
      await sleep(100 + Math.random() * 100);
    }
    try {
      await work();
    } finally {
      await db
        .raw(`SELECT RELEASE_LOCK(${MYSQL_LOCK_NAME})`)
        .connection(connection)
        .catch(() => undefined); // a dead connection released it already
    }
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Brings the schema to the latest migration, idempotently; any number of replicas may start at
 * once. MySQL: under the schema lock (see {@link withMysqlSchemaLock}). SQLite: a migration is one
 * transaction, and lock conflicts are retried; when nothing is pending it only reads, because
 * knex's `latest()` takes the migration lock (a write) even with nothing to do.
 */
export async function migrateToLatest(db: Knex, dialect: SqlDialect): Promise<void> {
  const config: Knex.MigratorConfig = { migrationSource: migrationSource(dialect), tableName: MIGRATIONS_TABLE };
  if (dialect === 'mysql') {
    await withMysqlSchemaLock(db, async () => {
      const [, pending] = (await db.migrate.list(config)) as [unknown[], unknown[]];
      if (pending.length === 0) return;
      // Holding the schema lock, no one else migrates: a taken knex lock is a leftover.
      await db.migrate.forceFreeMigrationsLock(config);
      await db.migrate.latest(config);
    });
    return;
  }
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
