import { defineDataSourcePlugin, PLUGIN_API_VERSION, readPluginOptions, type PluginOptionsReader } from '@dynmcp/plugin';
import { createEtcdDataSource, type EtcdDataSourceOptions } from './etcd-datasource.js';
import { createSqlDataSource, type SqlDataSourceOptions } from './sql-datasource.js';

const VERSION = '0.1.0';

type FeedOptions = Pick<SqlDataSourceOptions, 'pollIntervalMs' | 'tombstoneRetentionMs'> & HistoryOptions;

/** History retention, the same on every built-in store. */
type HistoryOptions = Pick<SqlDataSourceOptions, 'historyRetentionMs' | 'historyMaxVersions'>;

/** Options of the built-in SQLite datasource: the database file and the feed's timing. */
export type SqliteDataSourcePluginOptions = FeedOptions & { filename: string };

/** Options of the built-in MySQL/MariaDB datasource: a URL or mysql2 connection object, pool and timing. */
export type MysqlDataSourcePluginOptions = FeedOptions &
  Pick<SqlDataSourceOptions, 'pool' | 'acquireTimeoutMs' | 'connectTimeoutMs' | 'queryTimeoutMs' | 'idleTimeoutMs'> & {
    connection: string | Readonly<Record<string, unknown>>;
  };

/** Options of the built-in etcd datasource (see {@link EtcdDataSourceOptions}). */
export type EtcdDataSourcePluginOptions = Omit<EtcdDataSourceOptions, 'logger' | 'now'>;

const historyOptions = (read: PluginOptionsReader): HistoryOptions => ({
  historyRetentionMs: read.optional.number('historyRetentionMs'),
  historyMaxVersions: read.optional.number('historyMaxVersions'),
});

const feedOptions = (read: PluginOptionsReader): FeedOptions => ({
  pollIntervalMs: read.optional.number('pollIntervalMs'),
  tombstoneRetentionMs: read.optional.number('tombstoneRetentionMs'),
  ...historyOptions(read),
});

/**
 * The built-in SQLite datasource, registered through the same plugin interface as third-party
 * datasources.
 */
export const sqliteDataSourcePlugin = defineDataSourcePlugin({
  name: 'sqlite',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  parseOptions(raw): SqliteDataSourcePluginOptions {
    const read = readPluginOptions('sqlite', raw);
    return { filename: read.string('filename'), ...feedOptions(read) };
  },
  create: ({ logger, options }) => createSqlDataSource({ ...options, client: 'sqlite', logger }),
});

/** The built-in MySQL/MariaDB datasource. */
export const mysqlDataSourcePlugin = defineDataSourcePlugin({
  name: 'mysql',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  parseOptions(raw): MysqlDataSourcePluginOptions {
    const read = readPluginOptions('mysql', raw);
    const url = read.raw.connection;
    const connection = typeof url === 'string' ? url : read.optional.object('connection')?.raw;
    if (connection === undefined) throw read.invalid('connection', 'a mysql:// URL or a mysql2 connection object');
    const pool = read.optional.object('pool');
    return {
      connection,
      ...(pool === undefined ? {} : { pool: { min: pool.optional.number('min'), max: pool.optional.number('max') } }),
      acquireTimeoutMs: read.optional.number('acquireTimeoutMs'),
      connectTimeoutMs: read.optional.number('connectTimeoutMs'),
      queryTimeoutMs: read.optional.number('queryTimeoutMs'),
      idleTimeoutMs: read.optional.number('idleTimeoutMs'),
      ...feedOptions(read),
    };
  },
  create: ({ logger, options }) => createSqlDataSource({ ...options, client: 'mysql', logger }),
});

/** The built-in etcd datasource (etcd3 loads on `open()`). */
export const etcdDataSourcePlugin = defineDataSourcePlugin({
  name: 'etcd',
  version: VERSION,
  apiVersion: PLUGIN_API_VERSION,
  parseOptions(raw): EtcdDataSourcePluginOptions {
    const read = readPluginOptions('etcd', raw);
    const tls = read.optional.object('tls');
    return {
      endpoints: read.stringList('endpoints'),
      prefix: read.string('prefix'),
      username: read.optional.string('username'),
      password: read.optional.string('password'),
      ...(tls === undefined
        ? {}
        : { tls: { caFile: tls.optional.string('caFile'), certFile: tls.optional.string('certFile'), keyFile: tls.optional.string('keyFile') } }),
      keepaliveMs: read.optional.number('keepaliveMs'),
      callTimeoutMs: read.optional.number('callTimeoutMs'),
      initialBackoffMs: read.optional.number('initialBackoffMs'),
      maxBackoffMs: read.optional.number('maxBackoffMs'),
      ...historyOptions(read),
    };
  },
  create: ({ logger, options }) => createEtcdDataSource({ ...options, logger }),
});
