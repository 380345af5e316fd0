import { defineAuthPlugin, defineDataSourcePlugin, PLUGIN_API_VERSION } from '@dynmcp/plugin';
import { createApiKeyAuthProvider, type ApiKeyAuthOptions } from './auth/index.js';
import { createEtcdDataSource, createSqlDataSource, type EtcdDataSourceOptions, type SqlDataSourceOptions } from './datasource/index.js';

const VERSION = '0.1.0';

/**
 * The built-in SQLite datasource, registered through the same plugin interface as third-party
 * datasources. Options: `{ filename, pollIntervalMs?, tombstoneRetentionMs? }`.
 */
export const sqliteDataSourcePlugin = defineDataSourcePlugin({
  name: 'sqlite',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  create: ({ logger, options }) =>
    createSqlDataSource({ ...(options as Omit<SqlDataSourceOptions, 'client' | 'logger'>), client: 'sqlite', logger }),
});

/** The built-in MySQL/MariaDB datasource. Options: `{ connection, pool?, pollIntervalMs?, tombstoneRetentionMs? }`. */
export const mysqlDataSourcePlugin = defineDataSourcePlugin({
  name: 'mysql',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  create: ({ logger, options }) =>
    createSqlDataSource({ ...(options as Omit<SqlDataSourceOptions, 'client' | 'logger'>), client: 'mysql', logger }),
});

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

/** The built-in API-key auth provider. Options: `{ adminKeys, keys? }` (see {@link ApiKeyAuthOptions}). */
export const apiKeyAuthPlugin = defineAuthPlugin({
  name: 'api-key',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  create: ({ options }) => createApiKeyAuthProvider(options as unknown as ApiKeyAuthOptions),
});
