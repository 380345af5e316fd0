// The public surface of @dynmcp/datasources: the built-in datasources, as plugins and as factories.
// Named exports only. Knex, the SQL drivers and etcd3 load on a datasource's `open()`, so importing
// this package loads none of them.
export { etcdDataSourcePlugin, mysqlDataSourcePlugin, sqliteDataSourcePlugin } from './builtin-plugins.js';
export type { EtcdDataSourcePluginOptions, MysqlDataSourcePluginOptions, SqliteDataSourcePluginOptions } from './builtin-plugins.js';
export { createSqlDataSource } from './sql-datasource.js';
export type { SqlDataSourceOptions } from './sql-datasource.js';
export { createEtcdDataSource } from './etcd-datasource.js';
export type { EtcdDataSourceOptions } from './etcd-datasource.js';
