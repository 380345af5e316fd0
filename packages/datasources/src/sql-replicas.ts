import type { Knex } from 'knex';
import type { Logger, ReplicaInfo } from '@dynmcp/plugin';
import { byId, decodeReplica, encodeReplica, serialAnnouncement, type ReplicaStore } from './replica-store.js';
import type { SqlDialect } from './sql-migrations.js';

// Replica announcements of the SQL stores: one row per replica in their own table, outside
// dynmcp_records, so an announcement takes no revision and never reaches the feed. A row carries
// its expiry (epoch ms of the writer's clock); rows past it are not listed and are deleted by the
// next heartbeat of any replica. Expiry compares clocks of different hosts: keep them in sync.

/** One row per announced replica: its info as JSON and when the entry expires. */
export const REPLICAS_TABLE = 'dynmcp_replicas';

/** The schema step that creates {@link REPLICAS_TABLE} (a migration of `sql-migrations.ts`). */
export async function createReplicasTable(db: Knex, dialect: SqlDialect): Promise<void> {
  if (await db.schema.hasTable(REPLICAS_TABLE)) return;
  await db.schema.createTable(REPLICAS_TABLE, (table) => {
    table.string('id', 64).primary();
    table.text('value').notNullable();
    table.bigInteger('expires_at').notNullable();
    table.index(['expires_at'], 'dynmcp_replicas_expires_idx');
    if (dialect === 'mysql') {
      table.engine('InnoDB');
      table.charset('utf8mb4');
      table.collate('utf8mb4_bin');
    }
  });
}

/** Options of {@link createSqlReplicaStore}. */
export interface SqlReplicaStoreOptions {
  now: () => number;
  logger: Logger;
  /** The store's revision counter (what every replica should have applied). */
  head(db: Knex): Promise<number>;
  /** Runs a statement with the datasource's retries (lock conflicts, dead pooled connections). */
  retry<T>(operation: () => Promise<T>): Promise<T>;
}

/** Announcements in {@link REPLICAS_TABLE}. */
export function createSqlReplicaStore(options: SqlReplicaStoreOptions): ReplicaStore<Knex> {
  const { now, logger, retry } = options;

  return {
    announce(client, info, ttlMs) {
      const { id } = info;

      async function write(db: Knex, next: ReplicaInfo): Promise<void> {
        const at = now();
        await retry(() =>
          db(REPLICAS_TABLE)
            .insert({ id, value: encodeReplica({ ...next, id }), expires_at: at + ttlMs })
            .onConflict('id')
            .merge(['value', 'expires_at']),
        );
        // Entries of replicas that crashed; every heartbeat sweeps, the index keeps it cheap.
        await retry(() => db(REPLICAS_TABLE).where('expires_at', '<', at).delete());
      }

      return serialAnnouncement(
        (next) => write(client(), next),
        async () => {
          try {
            await retry(() => client()(REPLICAS_TABLE).where({ id }).delete());
          } catch (error) {
            // The row expires on its own.
            logger.debug('replica entry not removed', { error: (error as Error).message });
          }
        },
      );
    },

    async list(db) {
      const at = now();
      const [revision, rows] = await Promise.all([
        options.head(db),
        retry(() => db(REPLICAS_TABLE).select('value').where('expires_at', '>=', at).orderBy('id') as Promise<Array<{ value: string }>>),
      ]);
      const replicas = rows.map((row) => decodeReplica(row.value)).filter((info) => info !== undefined);
      return { revision, replicas: replicas.sort(byId) };
    },
  };
}
