import { defineDataSourcePlugin, PLUGIN_API_VERSION } from '@dynmcp/plugin';
import { createEtcdDataSource, type EtcdDataSourceOptions } from './etcd-datasource.js';
import { createSqlDataSource, type SqlDataSourceOptions } from './sql-datasource.js';
import type { SqlDialect } from './sql-migrations.js';

const VERSION = '0.1.0';

function sqlDataSourcePlugin(client: SqlDialect) {
  return defineDataSourcePlugin({
    name: client,
    version: VERSION,
    apiVersion: PLUGIN_API_VERSION,
    create: ({ logger, options }) =>
      createSqlDataSource({ ...(options as Omit<SqlDataSourceOptions, 'client' | 'logger'>), client, logger }),
  });
}

/**
 * The built-in SQLite datasource, registered through the same plugin interface as third-party
 * datasources. Options: `{ filename, pollIntervalMs?, tombstoneRetentionMs? }`.
 */
export const sqliteDataSourcePlugin = sqlDataSourcePlugin('sqlite');

/** The built-in MySQL/MariaDB datasource. Options: `{ connection, pool?, pollIntervalMs?, tombstoneRetentionMs? }`. */
export const mysqlDataSourcePlugin = sqlDataSourcePlugin('mysql');

/**
 * The built-in etcd datasource (etcd3 loads on `open()`). Options: `{ endpoints, prefix, username?,
 * password?, tls?: { caFile?, certFile?, keyFile? }, keepaliveMs? }` (see {@link EtcdDataSourceOptions}).
 */
export const etcdDataSourcePlugin = defineDataSourcePlugin({
  name: 'etcd',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  create: ({ logger, options }) =>
    createEtcdDataSource({ ...(options as unknown as Omit<EtcdDataSourceOptions, 'logger'>), logger }),
});
