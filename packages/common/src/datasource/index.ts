// Built-in datasources. Named exports only.
export { createSqlDataSource } from './sql-datasource.js';
export type { SqlDataSourceOptions } from './sql-datasource.js';
export { createEtcdDataSource } from './etcd-datasource.js';
export type { EtcdDataSourceOptions } from './etcd-datasource.js';
